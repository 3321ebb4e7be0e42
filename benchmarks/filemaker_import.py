"""Measure the FileMaker import end to end: the full practice of issue 14 (55,758 records
and 11,259 documents) from the fake FileMaker server (tests/fakes/filemaker.py, in its own
process) into PostgreSQL, as records/s against the issue's target of 5,000.

    psql -c 'create database nexus_fm_bench'     # an empty database, migrated by this script
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexus_fm_bench \\
        .uv/bin/uv run --frozen --no-sync python benchmarks/filemaker_import.py

It times two runs of `import_filemaker`: the 55,758 records (every layout but Documents),
then the documents (bytes fetched and stored several at a time, to local disk here), then a
second, no-op run of everything (the idempotent rerun). Exit status 1 if the records/s
falls below --target. A benchmark, not a test: CI does not run it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--target", type=float, default=5_000, help="records/s to reach (default 5000)"
    )
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--source", choices=["data-api", "odata"], default="data-api")
    parser.add_argument(
        "--small", action="store_true", help="the small test practice (a smoke run)"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to an empty PostgreSQL database")

    media = tempfile.mkdtemp(prefix="fm-bench-media-")
    os.environ.update(
        {
            "DJANGO_DEBUG": "1",
            "DJANGO_MEDIA_ROOT": media,
            "AWS_STORAGE_BUCKET_NAME": "",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.filemaker", *([] if args.small else ["--full"])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if server.stdout is None:
            return 2
        os.environ.update(json.loads(server.stdout.readline()))
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from integrations.filemaker.importer import Options
        from integrations.filemaker.services import connection_from_env, import_filemaker

        def run(only: tuple[str, ...]) -> tuple[float, dict]:
            started = time.perf_counter()
            _, report = import_filemaker(
                connection=connection_from_env(),
                options=Options(source=args.source, only=only, batch_size=args.batch_size),
            )
            return time.perf_counter() - started, report

        kinds = (
            "clinics",
            "practitioners",
            "referrers",
            "coordinators",
            "clients",
            "appointments",
            "notes",
        )
        seconds, report = run(kinds)
        records = sum(s["found_count"] for s in report["layouts"].values())
        doc_seconds, doc_report = run(("documents",))
        documents = doc_report["layouts"]["Documents"]["found_count"]
        rerun_seconds, rerun = run(())
        rate = records / seconds
        print(
            f"records:   {records:,} in {seconds:.1f} s = {rate:,.0f} records/s "
            f"(target {args.target:,.0f})"
        )
        doc_rate = documents / doc_seconds
        print(f"documents: {documents:,} in {doc_seconds:.1f} s = {doc_rate:,.0f} documents/s")
        total = records + documents
        print(
            f"rerun:     {total:,} records and documents in {rerun_seconds:.1f} s, imported 0: "
            f"{all(s['imported'] == 0 for s in rerun['layouts'].values())}"
        )
        print("balanced:", report["balanced"] and doc_report["balanced"] and rerun["balanced"])
        for layout, state in {**report["layouts"], **doc_report["layouts"]}.items():
            print(
                f"  {layout:<14} found {state['found_count']:>6}  imported {state['imported']:>6}  "
                f"merged {state['merged']:>3}  rejected {state['rejected']:>3}"
            )
        return 0 if rate >= args.target else 1
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

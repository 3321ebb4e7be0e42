"""The Imports page (/setup/imports/): practice admins start a FileMaker import, watch its
progress (htmx polls the progress panel while it runs) and download the reconciliation
report as JSON or CSV. The import itself runs in Celery (integrations.tasks); the
connection comes from the FILEMAKER_* environment, never from the page."""

import io
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEvent
from audit.services import Target, audit_change, audit_record
from integrations.filemaker.importer import DEFAULT_BATCH_SIZE, OUTCOMES
from integrations.filemaker.mapping import load_mapping
from integrations.filemaker.services import connection_from_env, write_report_csv
from integrations.models import ImportRun
from nexus.errors import DomainError
from nexus.http import StaffRequest


def _progress(run: ImportRun) -> list[dict[str, object]]:
    rows = []
    for checkpoint in run.checkpoints.all():
        found = int(checkpoint.state.get("found_count", 0))
        rows.append(
            {
                "layout": checkpoint.layout,
                "done": checkpoint.offset,
                "found": found,
                "percent": 100
                if checkpoint.done
                else int(100 * checkpoint.offset / found)
                if found
                else 0,
                "finished": checkpoint.done,
                "counts": {o: checkpoint.state.get(o, 0) for o in OUTCOMES},
            }
        )
    return rows


@require_GET
@login_required
@permission_required("integrations.view_importrun", raise_exception=True)
def import_index(request: StaffRequest) -> HttpResponse:
    runs = ImportRun.objects.select_related("started_by")[:50]
    kinds = [lm.layout for lm in load_mapping().layouts]
    return render(request, "integrations/imports/index.html", {"runs": runs, "layouts": kinds})


@require_POST
@login_required
@permission_required(
    ["integrations.add_importrun", "integrations.view_importrun"], raise_exception=True
)
def import_start(request: StaffRequest) -> HttpResponse:
    from integrations.tasks import filemaker_import_task

    source = request.POST.get("source", "data-api")
    if source not in ("data-api", "odata"):
        return HttpResponse("Choose the Data API or OData.", status=400, content_type="text/plain")
    layouts = {lm.layout for lm in load_mapping().layouts}
    only = [name for name in request.POST.getlist("only") if name]
    if any(name not in layouts for name in only):
        return HttpResponse("Unknown layout.", status=400, content_type="text/plain")
    try:
        connection_from_env()
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("setup_imports:index")
    if ImportRun.objects.filter(status=ImportRun.Status.RUNNING).exists():
        messages.error(request, "An import is running already: wait for it, or resume it.")
        return redirect("setup_imports:index")
    with transaction.atomic():
        run = ImportRun.objects.create(
            source=source,
            options={"only": only, "since": None, "batch_size": DEFAULT_BATCH_SIZE},
            started_by=request.user,
        )
        audit_change(
            request=request,
            record=run,
            view="import_start",
            created=True,
            detail={"source": source},
        )
        transaction.on_commit(lambda: filemaker_import_task.delay(run.pk))
    return redirect("setup_imports:detail", run.pk)


@require_GET
@login_required
@permission_required("integrations.view_importrun", raise_exception=True)
def import_detail(request: StaffRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ImportRun.objects.select_related("started_by"), pk=pk)
    template = (
        "integrations/imports/_progress.html"
        if request.htmx
        else "integrations/imports/detail.html"
    )
    return render(request, template, {"run": run, "progress": _progress(run)})


@require_GET
@login_required
@permission_required("integrations.view_importrun", raise_exception=True)
def import_report(request: StaffRequest, pk: int, fmt: str) -> HttpResponse:
    run = get_object_or_404(ImportRun, pk=pk)
    if not run.report:
        return HttpResponse("This import has no report yet.", status=409, content_type="text/plain")
    # Legacy ids, counts and reasons only: no patient's name or details are in a report.
    audit_record(
        request=request,
        action=AuditEvent.Action.EXPORT,
        targets=[Target("integrations.importrun", str(run.pk), None)],
        detail={"view": "import_report", "format": fmt},
    )
    if fmt == "csv":
        buffer = io.StringIO()
        write_report_csv(run.report, buffer)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        body = json.dumps(run.report, indent=2, sort_keys=True)
        response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="filemaker-import-{run.pk}.{fmt}"'
    return response

"""Reading a FileMaker file: the Data API through python-fmrest, or OData v4 over HTTP.

Both give the importer the same three things: how many records a layout holds (the
`foundCount` the report must add up to), one page of records in a stable order (sorted by
the layout's key, so an offset means the same records on every run while FileMaker is
read-only), and a container's bytes. Nothing here writes to FileMaker.
"""

import base64
import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol
from urllib.parse import quote

import fmrest
import requests
from fmrest.exceptions import FileMakerError, FMRestException

# The Data API's "No records match the request": an empty page, not a failure.
FM_NO_RECORDS = 401
CONTAINER_CHUNK = 64 * 1024


class SourceError(Exception):
    """FileMaker could not be read (login refused, layout missing, server down)."""


class MissingBytes(Exception):
    """The container names a file the server cannot serve (404 on the streaming URL)."""


@dataclass
class Container:
    """A container's bytes, spooled to disk past 1 MB, with their SHA-256 and size."""

    file: IO[bytes]
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Connection:
    url: str
    database: str
    username: str
    password: str
    # True, False, or a CA bundle path (a test server's own certificate).
    verify: bool | str = True
    timeout: float = 30.0


class Source(Protocol):
    def found_count(self, layout: str, *, key: str, since: tuple[str, datetime] | None) -> int: ...

    def page(
        self,
        layout: str,
        *,
        key: str,
        offset: int,
        limit: int,
        since: tuple[str, datetime] | None,
    ) -> list[dict[str, Any]]: ...

    def container(
        self, layout: str, *, key: str, key_value: str, field: str, value: Any
    ) -> Container | None: ...

    def close(self) -> None: ...


def _spool(chunks: Iterator[bytes], content_type: str) -> Container:
    digest = hashlib.sha256()
    spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - handed back
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        spooled.write(chunk)
        size += len(chunk)
    spooled.seek(0)
    return Container(spooled, digest.hexdigest(), size, content_type)


def _fm_timestamp(moment: datetime) -> str:
    return moment.strftime("%m/%d/%Y %H:%M:%S")


class DataApiSource:
    """The FileMaker Data API, through python-fmrest (integrations.md §2.1)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        try:
            self.server = fmrest.Server(
                connection.url,
                user=connection.username,
                password=connection.password,
                database=connection.database,
                layout="",  # every call names its layout (request_layout)
                api_version="vLatest",
                auto_relogin=True,
                verify_ssl=connection.verify,
                timeout=int(connection.timeout),
            )
            self.server.login()
        except (FMRestException, ValueError, requests.RequestException) as error:
            raise SourceError(f"FileMaker Data API login failed: {error}") from error
        # Container bytes: the plain GET of fmrest's fetch_file (no Authorization header),
        # on one pooled session so several fetches at a time reuse their connections
        # instead of a TLS handshake per document.
        self.files = requests.Session()
        self.files.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=16))
        self.files.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

    def _foundset(
        self, layout: str, *, key: str, offset: int, limit: int, since: tuple[str, datetime] | None
    ) -> Any:
        sort = [{"fieldName": key, "sortOrder": "ascend"}]
        try:
            if since:
                field, moment = since
                return self.server.find(
                    [{field: f">{_fm_timestamp(moment)}"}],
                    sort=sort,
                    offset=offset + 1,
                    limit=limit,
                    request_layout=layout,
                )
            return self.server.get_records(
                offset=offset + 1, limit=limit, sort=sort, request_layout=layout
            )
        except FileMakerError:
            if str(self.server.last_error) == str(FM_NO_RECORDS):
                return None
            raise SourceError(
                f"FileMaker error {self.server.last_error} reading layout {layout}"
            ) from None
        except (FMRestException, requests.RequestException) as error:
            raise SourceError(f"FileMaker unreachable reading layout {layout}: {error}") from error

    def found_count(self, layout: str, *, key: str, since: tuple[str, datetime] | None) -> int:
        foundset = self._foundset(layout, key=key, offset=0, limit=1, since=since)
        return int(foundset.info.get("foundCount", 0)) if foundset is not None else 0

    def page(
        self,
        layout: str,
        *,
        key: str,
        offset: int,
        limit: int,
        since: tuple[str, datetime] | None,
    ) -> list[dict[str, Any]]:
        foundset = self._foundset(layout, key=key, offset=offset, limit=limit, since=since)
        if foundset is None:
            return []
        return [
            record.to_dict(ignore_portals=True, ignore_internal_ids=True) for record in foundset
        ]

    def container(
        self, layout: str, *, key: str, key_value: str, field: str, value: Any
    ) -> Container | None:
        url = str(value or "").strip()
        if not url:
            return None
        try:
            response = self.files.get(
                url, stream=True, timeout=self.connection.timeout, verify=self.connection.verify
            )
        except requests.RequestException as error:
            raise SourceError(f"container unreachable in layout {layout}: {error}") from error
        content_type = response.headers.get("Content-Type", "")
        with response:
            if response.status_code == 404:
                raise MissingBytes
            if response.status_code != 200:
                raise SourceError(f"container answered HTTP {response.status_code} in {layout}")
            return _spool(response.iter_content(CONTAINER_CHUNK), content_type or "")

    def close(self) -> None:
        self.files.close()
        with contextlib.suppress(FMRestException, requests.RequestException):
            self.server.logout()  # otherwise the token lapses by itself


class ODataSource:
    """FileMaker's OData v4 API (integrations.md §2.2): Basic auth on every request,
    `@odata.nextLink` paging, containers from `<Layout>('<key>')/<field>/$value`.

    System query options go out with a literal `$`: FileMaker ignores `%24top`, which is
    what `requests` would send from a params dict, so the query string is built here."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.base = f"{connection.url.rstrip('/')}/fmi/odata/v4/{quote(connection.database)}"
        self.session = requests.Session()
        token = base64.b64encode(f"{connection.username}:{connection.password}".encode()).decode()
        self.session.headers.update(
            {"Authorization": f"Basic {token}", "Accept": "application/json"}
        )
        response = self._get(self.base)
        if response.status_code != 200:
            raise SourceError(
                f"FileMaker OData refused the connection (HTTP {response.status_code})"
            )

    def _get(self, url: str, *, stream: bool = False) -> requests.Response:
        try:
            # verify per request: a session-level value loses to REQUESTS_CA_BUNDLE.
            return self.session.get(
                url, timeout=self.connection.timeout, stream=stream, verify=self.connection.verify
            )
        except requests.RequestException as error:
            raise SourceError(f"FileMaker OData unreachable: {error}") from error

    @staticmethod
    def _filter(since: tuple[str, datetime] | None) -> str:
        if not since:
            return ""
        field, moment = since
        return f"$filter={quote(field)}%20gt%20{moment.strftime('%Y-%m-%dT%H:%M:%S')}"

    def found_count(self, layout: str, *, key: str, since: tuple[str, datetime] | None) -> int:
        query = self._filter(since)
        url = f"{self.base}/{quote(layout)}/$count" + (f"?{query}" if query else "")
        response = self._get(url)
        if response.status_code != 200:
            raise SourceError(
                f"FileMaker OData count failed for {layout} (HTTP {response.status_code})"
            )
        return int(response.text.strip())

    def page(
        self,
        layout: str,
        *,
        key: str,
        offset: int,
        limit: int,
        since: tuple[str, datetime] | None,
    ) -> list[dict[str, Any]]:
        options = [f"$orderby={quote(key)}", f"$skip={offset}", f"$top={limit}"]
        if since:
            options.append(self._filter(since))
        url: str | None = f"{self.base}/{quote(layout)}?{'&'.join(options)}"
        rows: list[dict[str, Any]] = []
        while url:
            response = self._get(url)
            if response.status_code != 200:
                raise SourceError(
                    f"FileMaker OData read failed for {layout} (HTTP {response.status_code})"
                )
            body = response.json()
            rows.extend(
                {k: v for k, v in row.items() if not k.startswith("@")}
                for row in body.get("value", [])
            )
            url = body.get("@odata.nextLink")
        return rows

    def container(
        self, layout: str, *, key: str, key_value: str, field: str, value: Any
    ) -> Container | None:
        literal = key_value.replace("'", "''")
        url = f"{self.base}/{quote(layout)}('{quote(literal)}')/{quote(field)}/$value"
        response = self._get(url, stream=True)
        with response:
            if response.status_code == 204:
                return None
            if response.status_code == 404:
                raise MissingBytes
            if response.status_code != 200:
                raise SourceError(f"container answered HTTP {response.status_code} in {layout}")
            content_type = response.headers.get("Content-Type", "")
            return _spool(response.iter_content(CONTAINER_CHUNK), content_type)

    def close(self) -> None:
        self.session.close()


def open_source(kind: str, connection: Connection) -> Source:
    if kind == "odata":
        return ODataSource(connection)
    if kind == "data-api":
        return DataApiSource(connection)
    raise SourceError(f"unknown source {kind!r}: use data-api or odata")

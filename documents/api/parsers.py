from typing import Any

from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser


class _KeepFileNames(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        # Django quietly strips paths and control characters from upload names, so
        # "../../x.pdf" would arrive as "x.pdf". Documents refuse such names instead, with
        # a reason (documents.validation.clean_filename); the name never becomes a path.
        # "/" becomes "\\" only so that UploadedFile's basename() keeps it for that check.
        return file_name.replace("/", "\\") or None


class DocumentUploadParser(MultiPartParser):
    """multipart/form-data, handing the upload's file name over exactly as sent."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = parser_context.get("encoding") or "utf-8"
        try:
            parser = _KeepFileNames(meta, stream, request.upload_handlers, encoding)
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)

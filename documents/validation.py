"""What an upload must be before anything is stored (security.md R29).

The type is sniffed from the bytes (filetype) and must be on the allowlist and agree with
the file name's extension; PDFs may not carry scripts, launch actions or attachments;
images must decode within a pixel budget. Every rejection names its reason.
"""

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

from nexus.errors import ValidationFailed

# Sniffed type -> the extensions a file of that type may be named with.
ALLOWED_TYPES: dict[str, set[str]] = {
    "application/pdf": {".pdf"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/png": {".png"},
    "image/heic": {".heic"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
}
MAX_IMAGE_PIXELS = 50_000_000  # a 50-megapixel photo; "pixel floods" claim billions
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# A Word file is a zip: what it may inflate to, in total and relative to its size. Text
# compresses ~5-20x; a "zip bomb" claims thousands.
MAX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_INFLATION_RATIO = 100
MAX_ARCHIVE_MEMBERS = 2_000
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|OpenAction\s*<<[^>]*/JS)\b")
_SAFE_NAME = re.compile(r"[^\w .()+-]")


class UploadRejected(ValidationFailed):
    code = "upload_rejected"

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail, field="file")
        self.code = code
        if code == "file_too_large":
            self.status_code = 413


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    content_type: str
    size: int
    sha256: str


def max_upload_bytes() -> int:
    return settings.NEXUS_DOCUMENT_MAX_MB * 1024 * 1024


def clean_filename(raw: str) -> str:
    """The uploaded name, safe to show and to put in a Content-Disposition header.
    Names that try to be paths or carry control characters are refused, not repaired."""
    if any(ch in raw for ch in "\x00\r\n/\\") or ".." in raw:
        raise UploadRejected(
            "The file name contains a path or control characters; rename the file and "
            "upload it again.",
            code="file_name_invalid",
        )
    name = unicodedata.normalize("NFKC", raw).strip()
    name = _SAFE_NAME.sub("_", name)
    stem, suffix = PurePath(name).stem, PurePath(name).suffix.lower()
    name = f"{stem[:100]}{suffix}"
    if not stem or not suffix:
        raise UploadRejected(
            "The file name needs a name and an extension, such as referral.pdf.",
            code="file_name_invalid",
        )
    return name


def check_upload(upload: UploadedFile) -> CheckedUpload:
    name = clean_filename(upload.name or "")
    size = upload.size or 0
    if size == 0:
        raise UploadRejected("The file is empty.", code="file_empty")
    if size > max_upload_bytes():
        raise UploadRejected(
            f"The file is {size / 1024 / 1024:.1f} MB; the limit is "
            f"{settings.NEXUS_DOCUMENT_MAX_MB} MB.",
            code="file_too_large",
        )
    upload.seek(0)
    head = upload.read(8192)
    kind = filetype.guess(head)
    content_type = kind.mime if kind else ""
    if content_type not in ALLOWED_TYPES:
        raise UploadRejected(
            "Only PDF, JPEG, PNG, HEIC and Word (.docx) files can be uploaded; this file's "
            "contents are not one of those.",
            code="file_type_not_allowed",
        )
    if PurePath(name).suffix not in ALLOWED_TYPES[content_type]:
        raise UploadRejected(
            f"The file is named {PurePath(name).suffix} but its contents are "
            f"{kind.extension.upper() if kind else 'something else'}; rename it or upload "
            "the right file.",
            code="file_type_mismatch",
        )
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        if content_type == "application/pdf" and _PDF_ACTIVE.search(chunk):
            raise UploadRejected(
                "This PDF contains scripts, launch actions or attached files, which are "
                "not accepted; print it to a new PDF and upload that.",
                code="file_active_content",
            )
    if content_type in ("image/jpeg", "image/png"):
        _check_image(upload)
    if content_type == DOCX:
        _check_docx(upload, size)
    upload.seek(0)
    return CheckedUpload(name, content_type, size, digest.hexdigest())


def _check_image(upload: UploadedFile) -> None:
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UploadRejected(
                    "The image is too large (more than 50 megapixels).", code="file_too_large"
                )
            image.verify()
    except UploadRejected:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise UploadRejected(
            "The image is damaged and cannot be read.", code="file_damaged"
        ) from exc


def _check_docx(upload: UploadedFile, size: int) -> None:
    """No macros (a .docx never has them; a renamed .docm does) and no zip bomb: members
    are inflated, counting, and reading stops at the limit whatever the headers claim."""
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise UploadRejected(
                    "The Word file holds too many parts to be a document.", code="file_archive_bomb"
                )
            for member in members:
                lowered = member.filename.lower()
                macros = lowered.endswith(("vbaproject.bin", "vbadata.xml"))
                if lowered == "[content_types].xml" and member.file_size < 1024 * 1024:
                    macros = macros or b"macroenabled" in archive.read(member).lower()
                if macros:
                    raise UploadRejected(
                        "This Word file contains macros, which are not accepted; save it as a "
                        "plain .docx (or PDF) and upload that.",
                        code="file_macros",
                    )
            # Small files may inflate to 10 MB whatever their ratio.
            limit = min(MAX_INFLATED_BYTES, max(size * MAX_INFLATION_RATIO, 10 * 1024 * 1024))
            inflated = 0
            for member in members:
                with archive.open(member) as part:
                    while chunk := part.read(1024 * 1024):
                        inflated += len(chunk)
                        if inflated > limit:
                            raise UploadRejected(
                                "The Word file expands to far more than its size; it is "
                                "not accepted.",
                                code="file_archive_bomb",
                            )
    except UploadRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRejected(
            "The Word file is damaged and cannot be read.", code="file_damaged"
        ) from exc

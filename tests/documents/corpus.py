"""Files for upload tests: a good one of each allowed type, and a corpus of bad ones."""

import io
import zipfile

from PIL import Image


def pdf(text: str = "Referral for Ada") -> bytes:
    body = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length "
        + str(len(body)).encode()
        + b" >> stream\n"
        + body
        + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color=0 if mode == "1" else (200, 80, 40)).save(out, format=fmt)
    return out.getvalue()


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Override PartName="/word/document.xml" ContentType="'
            'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
            "/></Types>",
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def heic() -> bytes:
    # An ISO-BMFF "ftyp" box with the HEIC brand, as phones write at the start of a photo.
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


GOOD = {
    "referral.pdf": pdf(),
    "wound.png": image("PNG"),
    "scan.jpg": image("JPEG"),
    "report.docx": docx(),
    "photo.heic": heic(),
}

# (name, bytes, expected code). Each must be refused with nothing stored.
BAD = [
    (
        "referral.pdf",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        "file_type_not_allowed",
    ),
    (
        "chart.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "file_type_not_allowed",
    ),
    (
        "chart.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "file_type_not_allowed",
    ),
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "file_type_not_allowed"),
    ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "file_type_not_allowed"),
    ("tool.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "file_type_not_allowed"),
    ("notes.zip", b"PK\x03\x04" + b"\x00" * 200, "file_type_not_allowed"),
    ("empty.pdf", b"", "file_empty"),
    ("photo.jpg", image("PNG"), "file_type_mismatch"),
    ("referral.docx", pdf(), "file_type_mismatch"),
    ("x.pdf\x00.html", pdf(), "file_name_invalid"),
    ("../../etc/referral.pdf", pdf(), "file_name_invalid"),
    ("..\\..\\referral.pdf", pdf(), "file_name_invalid"),
    ("referral\r\n.pdf", pdf(), "file_name_invalid"),
    ("referral\n.pdf", pdf(), "file_name_invalid"),
    (
        "script.pdf",
        pdf() + b"1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
        "file_active_content",
    ),
    ("launch.pdf", pdf() + b"5 0 obj << /S /Launch /F (cmd.exe) >> endobj", "file_active_content"),
    ("attached.pdf", pdf() + b"6 0 obj << /Type /EmbeddedFile >> endobj", "file_active_content"),
    ("flood.png", image("PNG", (8000, 8000), mode="1"), "file_too_large"),
    ("broken.png", image("PNG")[:40], "file_damaged"),
    (".pdf", pdf(), "file_name_invalid"),
]

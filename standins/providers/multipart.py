"""Reading `multipart/form-data` with the standard library (the stand-ins need no extra
package for it)."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart form; ValueError when it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("not multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ValueError("no parts")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part has no name")
        payload = part.get_payload(decode=True)
        fields[name] = payload.decode() if isinstance(payload, bytes) else ""
    return fields

"""Reading the SigV4 credentials of a request as S3 reads them: the Authorization header or the presigned
query parameters, with S3's own error codes and messages for every malformed part. Pure: it sees an
`AuthRequest`, never aiohttp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from strongroom.errors import (
    S3Error,
    access_denied,
    authorization_header_malformed,
    authorization_query_parameters_error,
    invalid_argument,
    invalid_request,
)
from strongroom.sigv4.canonical import (
    ALGORITHM,
    UNSIGNED_PAYLOAD,
    AuthRequest,
    first_header,
    header_map,
    percent_decode,
)

MAX_EXPIRES = 604800  # seconds: a week
_MECHANISM = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_REQUIRED_PARAMS = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
    "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_BAD_CREDENTIAL = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_DATE_FORMAT = 'This date in the credential must be in the format "yyyyMMdd".'
_THREE_COMPONENTS = (
    "the authorization header requires three components: Credential, SignedHeaders, and Signature."
)
_PRESIGN_PARAMS = (
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-signature",
    "x-amz-date",
    "x-amz-signedheaders",
    "x-amz-expires",
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class ParsedAuth:
    kind: Literal["header", "presigned"]
    access_key: str
    date: str  # YYYYMMDD, from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: datetime  # aware, UTC
    expires: int | None  # presigned only
    content_sha256: str | None  # x-amz-content-sha256; presigned: UNSIGNED-PAYLOAD when absent
    request_time: str = ""  # the date text as sent, for RequestTimeTooSkewed
    security_token: str | None = field(default=None, repr=False)

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"



def _malformed(kind: str, detail: str, **details: str) -> S3Error:
    if kind == "header":
        err = authorization_header_malformed(f"The authorization header is malformed; {detail}")
        err.details.update(details)
        return err
    message = f"Error parsing the X-Amz-Credential parameter; {detail}"
    return authorization_query_parameters_error(message, **details)


def _credential(kind: str, credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise _malformed(kind, _BAD_CREDENTIAL)
    access_key, date, region, service, terminal = parts
    if not access_key:
        raise _malformed(kind, "a non-empty Access Key (AKID) must be provided in the credential.")
    if not (len(date) == 8 and date.isascii() and date.isdigit()):
        raise _malformed(kind, f'incorrect date format "{date}". {_DATE_FORMAT}')
    if terminal != "aws4_request":
        raise _malformed(kind, f'incorrect terminal "{terminal}". This endpoint uses "aws4_request".')
    return access_key, date, region, service


def _amz_date(text: str) -> datetime | None:
    if not _AMZ_DATE.fullmatch(text):
        return None
    try:  # by hand: strptime was 5% of a small GET
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[11:13]),
                        int(text[13:15]), tzinfo=UTC)
    except ValueError:
        return None


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return _amz_date(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _query_params(raw_query: str) -> tuple[dict[str, str], set[str]]:
    """Decoded parameters by lower-case name (the first of repeats: S3 matches SigV4's names in any
    case), and the names exactly as sent (Signature Version 2's are case-sensitive)."""
    params: dict[str, str] = {}
    names: set[str] = set()
    for part in raw_query.split("&") if raw_query else ():
        name, _, value = part.partition("=")
        key = percent_decode(name, True).decode("utf-8", "replace")
        names.add(key)
        params.setdefault(key.lower(), percent_decode(value, True).decode("utf-8", "replace"))
    return params, names


def parse(req: AuthRequest) -> ParsedAuth | None:
    """The credentials a request carries; None when it carries none (anonymous)."""
    headers = header_map(req.headers)
    authorization = (first_header(headers, "authorization") or "").strip()
    params, names = _query_params(req.raw_query)
    presigned = any(p in params for p in _PRESIGN_PARAMS)
    if authorization and (presigned or "Signature" in names):
        raise invalid_argument(_ONE_MECHANISM, "Authorization")  # AWS echoes the header: it holds a signature
    if authorization:
        return _parse_header(authorization, headers)
    if presigned:
        return _parse_presigned(params, headers)
    if "AWSAccessKeyId" in names and "Signature" in names:
        raise invalid_request(_MECHANISM)  # a Signature Version 2 presigned URL
    return None


def _parse_header(authorization: str, headers: dict[str, list[str]]) -> ParsedAuth:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        if algorithm == "AWS" or algorithm.startswith("AWS4-"):
            raise invalid_request(_MECHANISM)
        raise invalid_argument("Unsupported Authorization Type", "Authorization")  # the value may be a token
    components: dict[str, str] = {}
    for token in _SEPARATORS.split(rest.strip()):
        if not token:
            continue
        name, eq, value = token.partition("=")
        if not eq or name not in ("Credential", "SignedHeaders", "Signature") or name in components:
            raise _malformed("header", f'the authorization component "{name}" is malformed.')
        components[name] = value
    if len(components) != 3:
        raise _malformed("header", _THREE_COMPONENTS)
    access_key, date, region, service = _credential("header", components["Credential"])
    # The request time: x-amz-date, else Date. A present x-amz-date must itself be valid.
    if "x-amz-date" in headers:
        request_time = headers["x-amz-date"][0].strip()
        when = _amz_date(request_time)
    elif "date" in headers:
        request_time = headers["date"][0].strip()
        when = _http_date(request_time)
    else:
        request_time, when = "", None
    if when is None:
        raise access_denied(_NO_DATE)
    _check_scope_date("header", date, when)
    return ParsedAuth(
        kind="header",
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(components["SignedHeaders"].split(";")),
        signature=components["Signature"],
        amz_date=when,
        expires=None,
        content_sha256=first_header(headers, "x-amz-content-sha256"),
        request_time=request_time,
        security_token=first_header(headers, "x-amz-security-token"),
    )


def _check_scope_date(kind: str, date: str, when: datetime) -> None:
    if date != when.strftime("%Y%m%d"):
        raise _malformed(
            kind,
            f'Invalid credential date "{date}". This date is not the same as X-Amz-Date: "{when:%Y%m%d}".',
        )


def _parse_presigned(params: dict[str, str], headers: dict[str, list[str]]) -> ParsedAuth:
    if not all(p in params for p in _PRESIGN_PARAMS):
        raise authorization_query_parameters_error(_REQUIRED_PARAMS)
    algorithm = params["x-amz-algorithm"]
    if algorithm == "AWS4-ECDSA-P256-SHA256":
        raise invalid_request(_MECHANISM)  # SigV4a: AWS has it, strongroom does not
    if algorithm != ALGORITHM:
        raise authorization_query_parameters_error(
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"'
        )
    access_key, date, region, service = _credential("presigned", params["x-amz-credential"])
    when = _amz_date(params["x-amz-date"])
    if when is None:
        raise authorization_query_parameters_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    text = params["x-amz-expires"].strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise authorization_query_parameters_error("X-Amz-Expires should be a number")
    expires = int(text)
    if expires < 0:
        raise authorization_query_parameters_error("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise authorization_query_parameters_error(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
            "less than 604800 seconds"
        )
    _check_scope_date("presigned", date, when)
    content = first_header(headers, "x-amz-content-sha256") or params.get("x-amz-content-sha256")
    return ParsedAuth(
        kind="presigned",
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(params["x-amz-signedheaders"].split(";")),
        signature=params["x-amz-signature"],
        amz_date=when,
        expires=expires,
        content_sha256=content or UNSIGNED_PAYLOAD,
        request_time=params["x-amz-date"],
        security_token=params.get("x-amz-security-token"),
    )


def check_scope(parsed: ParsedAuth, *, service: str = "s3", region: str | None = None) -> None:
    """The credential scope names this endpoint: its service and, when the server has one, its region."""
    if parsed.service != service:
        detail = f'incorrect service "{parsed.service}". This endpoint belongs to "{service}".'
        raise _malformed(parsed.kind, detail)
    if region is not None and parsed.region != region:
        detail = f"the region '{parsed.region}' is wrong; expecting '{region}'"
        raise _malformed(parsed.kind, detail, Region=region)

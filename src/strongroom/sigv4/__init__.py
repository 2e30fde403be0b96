"""AWS Signature Version 4, written once for every side that signs or checks it.

- canonical.py: the canonical request, the string to sign, the signing-key chain (both sides);
- parse.py: the credentials a request carries (header or presigned), with S3's errors;
- verify.py: checking a signature and the request's time (the server);
- signer.py: signing headers and presigning URLs (the external KMS client, the bench, the tests).
Pure: imports the standard library and `strongroom.errors`, nothing else of ours.
"""

from strongroom.sigv4.canonical import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    AuthRequest,
    canonical_query,
    canonical_request,
    canonical_uri,
    sign_string,
    signing_key,
    string_to_sign,
    uri_encode,
)
from strongroom.sigv4.parse import MAX_EXPIRES, ParsedAuth, check_scope, parse
from strongroom.sigv4.signer import presign_url, sign_headers
from strongroom.sigv4.verify import (
    MAX_SKEW,
    PAYLOAD_MODES,
    SigningContext,
    mismatch,
    signatures_equal,
    verify,
)

__all__ = [
    "ALGORITHM", "AMZ_DATE_FORMAT", "EMPTY_SHA256", "MAX_EXPIRES", "MAX_SKEW", "PAYLOAD_MODES",
    "UNSIGNED_PAYLOAD", "AuthRequest", "ParsedAuth", "SigningContext", "canonical_query",
    "canonical_request", "canonical_uri", "check_scope", "mismatch", "parse", "presign_url",
    "sign_headers", "sign_string", "signatures_equal", "signing_key", "string_to_sign", "uri_encode",
    "verify",
]

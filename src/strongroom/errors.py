"""The one exception type that carries an S3 error to the client.

Every layer raises `S3Error` (usually through one of the factories below) when
the client should see a specific S3 error; the dispatcher renders it as the
standard `<Error>` XML. Any other exception becomes `InternalError` (500).
Messages are AWS's own wording where AWS's wording is known. Never put a secret
(key, signature, customer key) into a message or a detail.
"""

from __future__ import annotations


class S3Error(Exception):
    """An S3 error: `Code`, HTTP status, `Message`, and extra elements for the XML."""

    def __init__(self, code: str, status: int, message: str, **details: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}


class OutOfSpace(Exception):
    """A filesystem or a database had no room for a write: the blob store's free-space reserve
    (blobs.StorageFull), or the catalog's own file (SQLite's SQLITE_FULL). Answered as
    `storage_full()`, never as an InternalError."""


def storage_full() -> S3Error:
    """New data refused: the data directory's filesystem is down to its free-space reserve. AWS has no
    such error (its storage does not fill); 503 says "not now, the request itself is fine", like
    MinIO's XMinioStorageFull says it with 507; the code and message say what is wrong, never
    ServiceUnavailable's "Reduce your request rate". Documented in the README ("Disk full")."""
    return S3Error(
        "StorageFull",
        503,
        "The server's storage is full: new data is refused to keep room for deletes. "
        "Delete objects or abort multipart uploads, or add space, then retry.",
    )


def access_denied(message: str = "Access Denied") -> S3Error:
    return S3Error("AccessDenied", 403, message)


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> S3Error:
    details = {}
    if name is not None:
        details["ArgumentName"] = name
    if value is not None:
        details["ArgumentValue"] = value
    return S3Error("InvalidArgument", 400, message, **details)


def invalid_request(message: str) -> S3Error:
    return S3Error("InvalidRequest", 400, message)


def malformed_xml() -> S3Error:
    return S3Error(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", 404, "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", 404, "The specified key does not exist.", Key=key)


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "NoSuchUpload",
        404,
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed.",
        UploadId=upload_id,
    )


def bad_digest(message: str = "The Content-MD5 you specified did not match what we received.") -> S3Error:
    return S3Error("BadDigest", 400, message)


def invalid_digest(message: str = "The Content-MD5 you specified is not valid.") -> S3Error:
    return S3Error("InvalidDigest", 400, message)


def incomplete_body() -> S3Error:
    return S3Error(
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )


def internal_error() -> S3Error:
    return S3Error("InternalError", 500, "We encountered an internal error. Please try again.")


def not_implemented(
    message: str = "A header you provided implies functionality that is not implemented",
) -> S3Error:
    return S3Error("NotImplemented", 501, message)


def precondition_failed(condition: str) -> S3Error:
    return S3Error(
        "PreconditionFailed",
        412,
        "At least one of the pre-conditions you specified did not hold",
        Condition=condition,
    )


def signature_does_not_match() -> S3Error:
    return S3Error(
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )


def invalid_access_key_id() -> S3Error:
    return S3Error(
        "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."
    )


def authorization_header_malformed(message: str) -> S3Error:
    return S3Error("AuthorizationHeaderMalformed", 400, message)


# --- Authentication (SigV4) and aws-chunked bodies. Messages as AWS words them. ---


def authorization_query_parameters_error(message: str, **details: str) -> S3Error:
    return S3Error("AuthorizationQueryParametersError", 400, message, **details)


def request_time_too_skewed(request_time: str, server_time: str) -> S3Error:
    return S3Error(
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large.",
        RequestTime=request_time,
        ServerTime=server_time,
        MaxAllowedSkewMilliseconds="900000",
    )


def request_has_expired(x_amz_expires: str, expires: str, server_time: str) -> S3Error:
    details = {"X-Amz-Expires": x_amz_expires, "Expires": expires, "ServerTime": server_time}
    return S3Error("AccessDenied", 403, "Request has expired", **details)


def request_not_yet_valid(x_amz_date: str, expires: str, server_time: str) -> S3Error:
    details = {"X-Amz-Date": x_amz_date, "Expires": expires, "ServerTime": server_time}
    return S3Error("AccessDenied", 403, "Request is not yet valid", **details)


def headers_not_signed(names: str) -> S3Error:
    message = "There were headers present in the request which were not signed"
    return S3Error("AccessDenied", 403, message, HeadersNotSigned=names)


def body_terminated_unexpectedly() -> S3Error:
    """IncompleteBody as S3 words it for aws-chunked framing that is cut short or malformed."""
    return S3Error("IncompleteBody", 400, "The request body terminated unexpectedly")


def malformed_trailer() -> S3Error:
    message = (
        "The request contained trailing data that was not well-formed "
        "or did not conform to our published schema."
    )
    return S3Error("MalformedTrailerError", 400, message)


def invalid_chunk_size(chunk: int, bad_chunk_size: int) -> S3Error:
    return S3Error(
        "InvalidChunkSizeError",
        403,  # swift s3api test_input_errors, run against AWS
        "Only the last chunk is allowed to have a size less than 8192 bytes",
        Chunk=str(chunk),
        BadChunkSize=str(bad_chunk_size),
    )

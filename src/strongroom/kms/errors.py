"""The one exception of the KMS: an AWS KMS error (`__type`, message, HTTP status).

The JSON protocol renders it as `{"__type": code, "message": message}`; the S3
side (adapter.py) turns it into an S3Error named `KMS.<code>`. Messages are
AWS KMS's own wording where it is known (from responses recorded against AWS).
A message never holds key material, a plaintext or a ciphertext.
"""

from __future__ import annotations

ALIAS_PREFIX_HELP = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


class KmsError(Exception):
    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status


def validation(message: str) -> KmsError:
    return KmsError("ValidationException", message)


def constraint(value: object, field: str, rule: str) -> KmsError:
    """AWS's request-validation wording: one value, the field name in camelCase, the rule it broke."""
    shown = "null" if value is None else f"'{value}'"
    return validation(f"1 validation error detected: Value {shown} at '{field}' "
                      f"failed to satisfy constraint: Member {rule}")


def serialization(message: str = "") -> KmsError:
    return KmsError("SerializationException", message)


def invalid_key_id(ref: str) -> KmsError:
    return KmsError("NotFoundException", f"Invalid keyId '{ref}'")


def key_not_found(arn: str) -> KmsError:
    return KmsError("NotFoundException", f"Key '{arn}' does not exist")


def invalid_arn_region(region: str) -> KmsError:
    return KmsError("NotFoundException", f"Invalid arn {region}")


def key_not_found_policy(name: str) -> KmsError:
    """A PolicyName other than "default"."""
    return KmsError("NotFoundException", f"Policy {name} does not exist")


def alias_not_found(alias_arn: str) -> KmsError:
    return KmsError("NotFoundException", f"Alias {alias_arn} is not found.")


def alias_exists(alias_arn: str) -> KmsError:
    return KmsError("AlreadyExistsException", f"An alias with the name {alias_arn} already exists")


def disabled(arn: str) -> KmsError:
    return KmsError("DisabledException", f"{arn} is disabled.")


def pending_deletion(arn: str) -> KmsError:
    return KmsError("KMSInvalidStateException", f"{arn} is pending deletion.")


def protects_locked_objects(arn: str) -> KmsError:
    """strongroom's own refusal (AWS KMS knows nothing of S3 Object Lock), in the code AWS uses for a key
    whose state forbids the request: crypto-shredding must not destroy what a lock keeps."""
    return KmsError("KMSInvalidStateException",
                    f"{arn} seals S3 object versions under Object Lock (a retention that has not passed, "
                    "or a legal hold): it cannot be disabled or scheduled for deletion while they are "
                    "protected.")


def not_pending_deletion(arn: str) -> KmsError:
    return KmsError("KMSInvalidStateException", f"{arn} is not pending deletion.")


def invalid_ciphertext() -> KmsError:
    return KmsError("InvalidCiphertextException")  # AWS gives no message: it must not say why


def incorrect_key() -> KmsError:
    return KmsError("IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this operation.")


def not_authorized() -> KmsError:
    """An alias under the reserved `alias/aws/` prefix: AWS answers with no message."""
    return KmsError("NotAuthorizedException")


def access_denied(principal_arn: str, action: str, resource: str, policy: str = "identity-based") -> KmsError:
    return KmsError(
        "AccessDeniedException",
        f"User: {principal_arn} is not authorized to perform: kms:{action} on resource: {resource} "
        f"because no {policy} policy allows the kms:{action} action",
    )


def explicitly_denied(principal_arn: str, action: str, resource: str,
                      policy: str = "identity-based") -> KmsError:
    """IAM's wording when a Deny statement, not the lack of an Allow, refused the call ("in a
    resource-based policy": the key policy)."""
    return KmsError(
        "AccessDeniedException",
        f"User: {principal_arn} is not authorized to perform: kms:{action} on resource: {resource} "
        f"with an explicit deny in {'an' if policy[0] in 'aeiou' else 'a'} {policy} policy",
    )


def malformed_policy(message: str) -> KmsError:
    return KmsError("MalformedPolicyDocumentException", message)


def unsupported(message: str) -> KmsError:
    return KmsError("UnsupportedOperationException", message)


def throttling() -> KmsError:
    # AWS KMS's answer to a caller over its request quota (400, retried by the SDKs); ours when
    # no catalog connection became free in time (db.database.DatabaseBusy).
    return KmsError("ThrottlingException", "Rate exceeded")


def internal(message: str = "An internal error occurred. Please try again.") -> KmsError:
    return KmsError("KMSInternalException", message, 500)

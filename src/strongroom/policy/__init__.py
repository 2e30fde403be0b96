"""The IAM policy language: parsing, validating and evaluating bucket and identity policies.

Pure: imports nothing of aiohttp and nothing else of strongroom. Its one error is
`PolicyError(message)`, which the HTTP layer maps to S3 `MalformedPolicy`.

Modules: `document` (parse and validate), `conditions` (condition operators), `wildcard`
(the linear-time `*`/`?` matcher and policy variables), `principals` (who asks, who is
named), `context` (the request), `evaluate` (the decision), `public` (IsPublic),
`actions` (the catalogue of action names).

Policy variables (only in "Version": "2012-10-17" policies, in the resource part of a
Resource ARN and in String/ARN/Bool condition values): any single-valued condition key of
the request, such as ${aws:username}, ${aws:userid}, ${aws:PrincipalArn}, ${s3:prefix};
defaults (${aws:username, 'anonymous'}); and ${*}, ${?}, ${$} for literal characters.
"""

from strongroom.policy.actions import ALL_ACTIONS, KMS_ACTIONS, S3_ACTIONS, STS_ACTIONS
from strongroom.policy.context import RequestContext
from strongroom.policy.document import Policy, Statement, parse_policy
from strongroom.policy.errors import PolicyError
from strongroom.policy.evaluate import Decision, evaluate
from strongroom.policy.principals import Principal
from strongroom.policy.public import statement_allows_public

__all__ = [
    "ALL_ACTIONS",
    "KMS_ACTIONS",
    "S3_ACTIONS",
    "STS_ACTIONS",
    "Decision",
    "Policy",
    "PolicyError",
    "Principal",
    "RequestContext",
    "Statement",
    "evaluate",
    "parse_policy",
    "statement_allows_public",
]

"""The one exception type of the policy package.

`PolicyError(message)` carries AWS's `MalformedPolicy` message wording; the HTTP
layer turns it into the S3 error `MalformedPolicy` (400). Nothing else in the
package raises to its callers.
"""

from __future__ import annotations


class PolicyError(Exception):
    """A policy document AWS would refuse; `message` is the text for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

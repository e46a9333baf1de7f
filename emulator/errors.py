"""Meta's Graph API errors, in Meta's JSON shape (`{"error": {message, type, code, error_subcode, ...}}`).

What the client should do next follows from the code (DESIGN §2): 4/17/32/613/80001/80006 slow down,
1/2 and `is_transient` retry, 190 re-authenticate, 100/200-299 are permanent.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.model import JSON


@dataclass(frozen=True, slots=True)
class GraphError(Exception):
    status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    is_transient: bool = False

    def body(self, fbtrace_id: str) -> JSON:
        error: JSON = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient:
            error["is_transient"] = True
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def no_token() -> GraphError:
    return GraphError(400, 104, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    return GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")


def expired_token() -> GraphError:
    return GraphError(400, 190, "Error validating access token: Session has expired.", subcode=463)


def no_permission() -> GraphError:
    return GraphError(400, 10, "(#10) Application does not have permission for this action")


def bad_proof() -> GraphError:
    return GraphError(400, 100, "Invalid appsecret_proof provided in the API argument", "GraphMethodException")


def not_found(object_id: str) -> GraphError:
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )
    return GraphError(400, 100, message, "GraphMethodException", subcode=33)


def person_unavailable() -> GraphError:
    """Messenger's answer for a person who blocked the page or cannot be reached."""
    return GraphError(400, 551, "This person isn't available right now.", subcode=1545041)


def bad_parameter(detail: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {detail}")


def no_such_field(name: str, node: str) -> GraphError:
    return bad_parameter(f"Tried accessing nonexisting field ({name}) on node type ({node})")


def throttled(code: int) -> GraphError:
    if code == 80006:
        text = (
            "(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try again."
        )
        return GraphError(400, 80006, text, subcode=2446079)
    return GraphError(400, 613, "(#613) Calls to this api have exceeded the rate limit.")


def transient() -> GraphError:
    return GraphError(
        500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
    )


def too_much_data() -> GraphError:
    return GraphError(500, 1, "Please reduce the amount of data you're asking for, then retry your request")


def batch_too_large(limit: int) -> GraphError:
    return bad_parameter(f"Too many requests in batch message. Maximum batch size is {limit}")

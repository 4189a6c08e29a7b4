"""First auto-mode router: keyword rules. (Placeholder; the gateway work replaces it.)"""

from __future__ import annotations

import re

from ponder.request import ChatRequest
from ponder.router.base import Decision

_DEEP = re.compile(r"think hard|step by step|sql|refactor|\d+\s*[*×x]\s*\d+", re.IGNORECASE)


class RuleRouter:
    def decide(self, request: ChatRequest) -> Decision:
        if _DEEP.search(request.last_user_text):
            return Decision("deep", "the request looks like multi-step work")
        return Decision("fast", "the request looks simple")

"""The legal fields (API.md "Consultation": a lawyer's `fields[]`, a consultation's and a document order's
`legal_field`) and, in `classifier`, the model that picks one for a question.

Not a service: a shared domain package. Consultation classifies questions and documents classifies requests
with the same classifier, and catalog and the gateway validate fields against the same list, so the words
live here once instead of one service importing another (docs/architecture.md, "Shared domain packages").
Importing this package is cheap; the classifier (jieba, the trained weights) loads only from `classifier`."""

from __future__ import annotations

from typing import Literal, get_args

LegalField = Literal[
    "contract", "labour", "company", "ip", "tax", "litigation", "real_estate", "finance", "other"
]
LEGAL_FIELDS: tuple[LegalField, ...] = get_args(LegalField)
# The field of a question nobody (not even the classifier) could place; an agent classifies it by hand.
FALLBACK_FIELD: LegalField = "other"
# What people read for each field: (Chinese, English). Shown to people, a field is always its label, never
# its key ("other" inside a Chinese sentence).
LEGAL_FIELD_LABELS: dict[LegalField, tuple[str, str]] = {
    "contract": ("合同", "contracts"),
    "labour": ("劳动", "labour"),
    "company": ("公司", "company law"),
    "ip": ("知识产权", "intellectual property"),
    "tax": ("税务", "tax"),
    "litigation": ("诉讼", "litigation"),
    "real_estate": ("房地产", "real estate"),
    "finance": ("金融", "finance"),
    "other": ("其他", "other matters"),
}

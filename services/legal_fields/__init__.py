"""The legal fields (API.md "Consultation": a lawyer's `fields[]`, a consultation's and a document order's
`legal_field`) with the labels people read, and, in `classifier`, the model that picks one for a question.

The words themselves are the contract's (`counsel.common.v1.LegalField`); their labels live here, beside the
classifier, and nowhere else. Not a service: a shared domain package. Consultation classifies questions and
documents classifies requests with the same classifier, and catalog and the portal take the fields from
here, so no service imports another (docs/architecture.md, "Shared domain packages").
Importing this package is cheap; the classifier (jieba, the trained weights) loads only from `classifier`."""

from __future__ import annotations

from services.runtime.vocabulary import LegalField, words

LEGAL_FIELDS: tuple[str, ...] = words(LegalField)
# The field of a question nobody (not even the classifier) could place; an agent classifies it by hand.
FALLBACK_FIELD = "other"
# What people read for each field: (Chinese, English). Shown to people, a field is always its label, never
# its key ("other" inside a Chinese sentence).
LEGAL_FIELD_LABELS: dict[str, tuple[str, str]] = {
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
# The Chinese label of each field, as the portal shows it (its catalogue translates them).
LABELS: dict[str, str] = {field: chinese for field, (chinese, _) in LEGAL_FIELD_LABELS.items()}

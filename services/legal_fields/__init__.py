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
# Each field as the portal shows it (zh-CN; the portal's catalogue translates the labels).
LABELS: dict[str, str] = {
    "contract": "合同",
    "labour": "劳动",
    "company": "公司",
    "ip": "知识产权",
    "tax": "税务",
    "litigation": "诉讼",
    "real_estate": "房地产",
    "finance": "金融",
    "other": "其他",
}

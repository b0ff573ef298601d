"""Next purchases (§5.5, R-Q-2) as the public API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb


class Recommendation(BaseModel):
    product_id: str
    score: float = Field(description="The model's probability that this is the next purchase, 0..1.")
    reasons: list[str] = Field(description='Why, in Chinese, e.g. "本季度三次劳动咨询 → 劳动合规审查".')

    @classmethod
    def from_proto(cls, item: pb.Recommendation) -> Recommendation:
        return cls(product_id=item.product_id, score=round(item.score, 4), reasons=list(item.reasons))


class Recommendations(BaseModel):
    items: list[Recommendation] = Field(description="Best first, at most 5.")

    @classmethod
    def from_proto(cls, reply: pb.GetRecommendationsResponse) -> Recommendations:
        return cls(items=[Recommendation.from_proto(item) for item in reply.items])

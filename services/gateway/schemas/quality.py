"""Quality supervision, the question bank and assessments as the public API shows them (R-Q-4, R-Q-5,
§9.3, §9.4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.gateway.schemas.common import INT32_MAX, LegalField, RequestModel, or_none, rfc3339

ChoiceIndex = Annotated[int, Field(ge=0, le=INT32_MAX)]
Choice = Annotated[str, Field(min_length=1, max_length=500)]


class ScoreSample(RequestModel):
    score: int = Field(ge=1, le=5)
    passed: bool
    findings: str = Field(default="", max_length=4000)


class QcSample(BaseModel):
    id: str
    kind: str = Field(description="consultation_reply|document_version|meeting|visit")
    object_id: str = Field(
        description="A consultation, a document order's version (`<id>/v<n>`) or a booking."
    )
    lawyer_id: str
    status: str = Field(description="pending|passed|failed")
    score: int | None = Field(description="1..5 once scored.")
    findings: str | None
    reason: str = Field(description="Why it was sampled: the rate that applied.")
    scored_by: str | None
    created_at: str | None
    scored_at: str | None

    @classmethod
    def from_proto(cls, sample: pb.QcSample) -> QcSample:
        return cls(
            id=sample.id,
            kind=sample.kind,
            object_id=sample.object_id,
            lawyer_id=sample.lawyer_id,
            status=sample.status,
            score=sample.score or None,
            findings=or_none(sample.findings),
            reason=sample.reason,
            scored_by=or_none(sample.scored_by),
            created_at=rfc3339(sample, "created_at"),
            scored_at=rfc3339(sample, "scored_at"),
        )


class QcSamplePage(BaseModel):
    items: list[QcSample]
    next_cursor: str | None


class RiskFlag(BaseModel):
    id: str
    kind: str = Field(description="visit_without_check_in|two_low_ratings|reply_past_due_twice")
    lawyer_id: str
    object_id: str
    detail: str
    created_at: str | None

    @classmethod
    def from_proto(cls, flag: pb.RiskFlag) -> RiskFlag:
        return cls(
            id=flag.id,
            kind=flag.kind,
            lawyer_id=flag.lawyer_id,
            object_id=flag.object_id,
            detail=flag.detail,
            created_at=rfc3339(flag, "created_at"),
        )


class RiskFlagPage(BaseModel):
    items: list[RiskFlag]
    next_cursor: str | None


class QualityRecord(BaseModel):
    lawyer_id: str
    completed_items: int
    samples: int
    failed_samples: int
    risk_flags: int
    low_rating_streak: int
    replies_past_due: int

    @classmethod
    def from_proto(cls, record: pb.QualityRecord) -> QualityRecord:
        return cls(
            lawyer_id=record.lawyer_id,
            completed_items=record.completed_items,
            samples=record.samples,
            failed_samples=record.failed_samples,
            risk_flags=record.risk_flags,
            low_rating_streak=record.low_rating_streak,
            replies_past_due=record.replies_past_due,
        )


class QualityRecordPage(BaseModel):
    items: list[QualityRecord]
    next_cursor: str | None


class CreateQuestion(RequestModel):
    field: LegalField
    difficulty: int = Field(ge=1, le=5)
    stem: str = Field(min_length=1, max_length=2000)
    choices: list[Choice] = Field(min_length=2, max_length=8)
    answer: int = Field(ge=0, le=INT32_MAX, description="Index of the right choice.")
    explanation: str = Field(default="", max_length=2000)


class Question(BaseModel):
    id: str
    field: str
    difficulty: int
    stem: str
    choices: list[str]
    answer: int | None = Field(description="Index of the right choice; null for lawyers.")
    explanation: str | None = Field(description="Null for lawyers.")

    @classmethod
    def from_proto(cls, question: pb.Question) -> Question:
        hidden = question.answer < 0
        return cls(
            id=question.id,
            field=question.field,
            difficulty=question.difficulty,
            stem=question.stem,
            choices=list(question.choices),
            answer=None if hidden else question.answer,
            explanation=None if hidden else question.explanation,
        )


class QuestionPage(BaseModel):
    items: list[Question]
    next_cursor: str | None


class StartAssessment(RequestModel):
    field: LegalField


class AssessmentQuestion(BaseModel):
    id: str
    stem: str
    choices: list[str]


class Assessment(BaseModel):
    id: str
    questions: list[AssessmentQuestion]
    due_at: str | None = Field(description="Answers submitted after this are refused (409).")

    @classmethod
    def from_proto(cls, started: pb.StartAssessmentResponse) -> Assessment:
        return cls(
            id=started.id,
            questions=[
                AssessmentQuestion(id=q.id, stem=q.stem, choices=list(q.choices)) for q in started.questions
            ],
            due_at=rfc3339(started, "due_at"),
        )


class SubmitAnswers(RequestModel):
    answers: list[ChoiceIndex] = Field(
        max_length=100, description="The chosen choice's index, per question in order."
    )


class AssessmentScore(BaseModel):
    score: int = Field(description="Percent right, 0..100.")
    passed: bool


class AssessmentResult(BaseModel):
    id: str
    lawyer_id: str
    field: str
    status: str = Field(description="open|passed|failed|expired")
    score: int
    passed: bool
    created_at: str | None
    due_at: str | None
    submitted_at: str | None

    @classmethod
    def from_proto(cls, result: pb.AssessmentResult) -> AssessmentResult:
        return cls(
            id=result.id,
            lawyer_id=result.lawyer_id,
            field=result.field,
            status=result.status,
            score=result.score,
            passed=result.passed,
            created_at=rfc3339(result, "created_at"),
            due_at=rfc3339(result, "due_at"),
            submitted_at=rfc3339(result, "submitted_at"),
        )


class AssessmentResultPage(BaseModel):
    items: list[AssessmentResult]
    next_cursor: str | None

"""CatalogService's quality supervision and question bank RPCs (R-Q-4, R-Q-5, §9.3, §9.4): samples, scores,
risk flags and records for supervisors; the question bank (supervisors write, lawyers read without answers);
lawyers' assessments. Part of CatalogServicer (server.py)."""

from __future__ import annotations

import grpc

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from services.catalog import quality
from services.catalog.quality_models import (
    AssessmentRow,
    QcSampleRow,
    QualityRecordRow,
    QuestionRow,
    RiskFlagRow,
)
from services.catalog.store import CatalogStores
from services.runtime.context import Principal, current_principal
from services.runtime.errors import PermissionDenied
from services.runtime.records import page_size, to_timestamp, utcnow
from services.runtime.tenancy import signed_in

SUPERVISOR = "supervisor"
# Hidden answers read as this index (no choice has it).
HIDDEN_ANSWER = -1


def _supervisor(action: str) -> Principal:
    principal = signed_in(current_principal(), action)
    if not principal.has_role(SUPERVISOR):
        raise PermissionDenied(f"only a supervisor may {action}")
    return principal


def _lawyer(action: str) -> Principal:
    principal = signed_in(current_principal(), action)
    if not principal.has_role("lawyer"):
        raise PermissionDenied(f"only a lawyer may {action}")
    return principal


def _page(next_cursor: str) -> paging_pb2.PageResponse:
    return paging_pb2.PageResponse(next_cursor=next_cursor)


def sample_proto(row: QcSampleRow) -> pb.QcSample:
    return pb.QcSample(
        id=row.id,
        kind=row.kind,
        object_id=row.object_id,
        lawyer_id=row.lawyer_id,
        status=row.status,
        score=row.score,
        findings=row.findings,
        reason=row.reason,
        created_at=to_timestamp(row.created_at),
        scored_at=to_timestamp(row.scored_at),
        scored_by=row.scored_by,
    )


def flag_proto(row: RiskFlagRow) -> pb.RiskFlag:
    return pb.RiskFlag(
        id=row.id,
        kind=row.kind,
        lawyer_id=row.lawyer_id,
        object_id=row.object_id,
        detail=row.detail,
        created_at=to_timestamp(row.created_at),
    )


def record_proto(row: QualityRecordRow) -> pb.QualityRecord:
    return pb.QualityRecord(
        lawyer_id=row.lawyer_id,
        completed_items=row.completed_items,
        samples=row.samples,
        failed_samples=row.failed_samples,
        risk_flags=row.risk_flags,
        low_rating_streak=row.low_rating_streak,
        replies_past_due=row.replies_past_due,
    )


def question_proto(row: QuestionRow, with_answer: bool) -> pb.Question:
    return pb.Question(
        id=row.id,
        field=row.field,
        difficulty=row.difficulty,
        stem=row.stem,
        choices=row.choices,
        answer=row.answer if with_answer else HIDDEN_ANSWER,
        explanation=row.explanation if with_answer else "",
    )


def result_proto(row: AssessmentRow) -> pb.AssessmentResult:
    return pb.AssessmentResult(
        id=row.id,
        lawyer_id=row.lawyer_id,
        field=row.field,
        status=quality.assessment_status(row.status, row.due_at, utcnow()),
        score=row.score,
        passed=row.status == "passed",
        created_at=to_timestamp(row.created_at),
        due_at=to_timestamp(row.due_at),
        submitted_at=to_timestamp(row.submitted_at),
    )


class QualityRpcs:
    stores: CatalogStores

    async def ListQcSamples(
        self, request: pb.ListQcSamplesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListQcSamplesResponse:
        _supervisor("review sampled outputs")
        quality.validate_sample_filter(request.kind, request.status)
        rows, next_cursor = await self.stores.quality.list_samples(
            request.kind,
            request.status,
            request.lawyer_id,
            page_size(request.page.limit),
            request.page.cursor,
        )
        return pb.ListQcSamplesResponse(samples=[sample_proto(r) for r in rows], page=_page(next_cursor))

    async def ScoreQcSample(
        self, request: pb.ScoreQcSampleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ScoreQcSampleResponse:
        principal = _supervisor("score a sampled output")
        findings = quality.validate_score(request.score, request.findings)
        row = await self.stores.quality.score_sample(
            principal, request.sample_id, request.score, request.passed, findings
        )
        return pb.ScoreQcSampleResponse(sample=sample_proto(row))

    async def ListRiskFlags(
        self, request: pb.ListRiskFlagsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRiskFlagsResponse:
        _supervisor("see risk flags")
        rows, next_cursor = await self.stores.quality.list_flags(
            request.lawyer_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListRiskFlagsResponse(flags=[flag_proto(r) for r in rows], page=_page(next_cursor))

    async def ListQualityRecords(
        self, request: pb.ListQualityRecordsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListQualityRecordsResponse:
        _supervisor("see lawyers' quality records")
        rows, next_cursor = await self.stores.quality.list_records(
            request.lawyer_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListQualityRecordsResponse(records=[record_proto(r) for r in rows], page=_page(next_cursor))

    async def ListQuestions(
        self, request: pb.ListQuestionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListQuestionsResponse:
        principal = signed_in(current_principal(), "read the question bank")
        if not principal.has_role(SUPERVISOR, "lawyer"):
            raise PermissionDenied("only supervisors and lawyers read the question bank")
        if request.field:
            quality.validate_field(request.field)
        rows, next_cursor = await self.stores.assessments.list_questions(
            request.field, page_size(request.page.limit), request.page.cursor
        )
        with_answer = principal.has_role(SUPERVISOR)
        return pb.ListQuestionsResponse(
            questions=[question_proto(r, with_answer) for r in rows], page=_page(next_cursor)
        )

    async def CreateQuestion(
        self, request: pb.CreateQuestionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateQuestionResponse:
        principal = _supervisor("add to the question bank")
        q = request.question
        question = quality.validate_question(
            q.field, q.difficulty, q.stem, list(q.choices), q.answer, q.explanation
        )
        row = await self.stores.assessments.create_question(principal, question)
        return pb.CreateQuestionResponse(question=question_proto(row, with_answer=True))

    async def StartAssessment(
        self, request: pb.StartAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartAssessmentResponse:
        principal = _lawyer("take an assessment")
        drawn = await self.stores.assessments.start(principal, quality.validate_field(request.field))
        return pb.StartAssessmentResponse(
            id=drawn.assessment.id,
            questions=[
                pb.AssessmentQuestion(id=q.id, stem=q.stem, choices=q.choices) for q in drawn.questions
            ],
            due_at=to_timestamp(drawn.assessment.due_at),
        )

    async def SubmitAssessment(
        self, request: pb.SubmitAssessmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitAssessmentResponse:
        principal = _lawyer("submit an assessment")
        result = await self.stores.assessments.submit(principal, request.assessment_id, list(request.answers))
        return pb.SubmitAssessmentResponse(score=result.percent, passed=result.passed)

    async def ListAssessmentResults(
        self, request: pb.ListAssessmentResultsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAssessmentResultsResponse:
        principal = signed_in(current_principal(), "see assessment results")
        if principal.has_role(SUPERVISOR):
            lawyer_id = request.lawyer_id
        elif principal.has_role("lawyer"):
            lawyer_id = principal.user_id  # a lawyer sees their own results only
        else:
            raise PermissionDenied("only supervisors and lawyers see assessment results")
        if request.field:
            quality.validate_field(request.field)
        rows, next_cursor = await self.stores.assessments.list_results(
            lawyer_id, request.field, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListAssessmentResultsResponse(
            results=[result_proto(r) for r in rows], page=_page(next_cursor)
        )

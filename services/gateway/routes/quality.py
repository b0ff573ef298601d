"""Quality supervision, the question bank and assessments (R-Q-4, R-Q-5, §9.3, §9.4; API.md "Service quality
and growth"). The catalog owns them beside the lawyer profiles; roles are refused here and again there."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.quality import (
    Assessment,
    AssessmentResult,
    AssessmentResultPage,
    AssessmentScore,
    CreateQuestion,
    QcSample,
    QcSamplePage,
    QualityRecord,
    QualityRecordPage,
    Question,
    QuestionPage,
    RiskFlag,
    RiskFlagPage,
    ScoreSample,
    StartAssessment,
    SubmitAnswers,
)

router = api_router("quality")

Supervisor = Depends(require_roles("supervisor"))
Lawyer = Depends(require_roles("lawyer"))
SupervisorOrLawyer = Depends(require_roles("supervisor", "lawyer"))
Limit = Annotated[int | None, Query(ge=1, le=100)]
Cursor = Annotated[str, Query(max_length=1000)]
LawyerId = Annotated[str, Query(max_length=200, description="Only this lawyer's (identity account).")]
FieldFilter = Annotated[str, Query(max_length=50, description="Only this legal field.")]


def _page(limit: int | None, cursor: str) -> paging_pb2.PageRequest:
    return paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)


@router.get("/api/v1/qc/samples", response_model=QcSamplePage, dependencies=[Supervisor])
async def list_samples(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    kind: Annotated[
        str, Query(max_length=50, description="consultation_reply|document_version|meeting|visit")
    ] = "",
    status: Annotated[str, Query(max_length=50, description="pending|passed|failed")] = "",
    lawyer_id: LawyerId = "",
    limit: Limit = None,
    cursor: Cursor = "",
) -> QcSamplePage:
    """Lawyers' outputs sampled for review, newest first; the sampling rate rises for new lawyers and after a
    low rating or a failed check (each sample says which rate applied)."""
    reply = await clients.catalog.ListQcSamples(
        pb.ListQcSamplesRequest(kind=kind, status=status, lawyer_id=lawyer_id, page=_page(limit, cursor))
    )
    return QcSamplePage(
        items=[QcSample.from_proto(s) for s in reply.samples], next_cursor=next_cursor(reply.page)
    )


@router.post("/api/v1/qc/samples/{sample_id}/score", response_model=QcSample, dependencies=[Supervisor])
async def score_sample(
    sample_id: str, body: ScoreSample, principal: CurrentPrincipal, clients: ClientsDep
) -> QcSample:
    """Score a pending sample once (a second score is 409); a failed one opens a follow-up for the lawyer and
    counts in their record."""
    reply = await clients.catalog.ScoreQcSample(
        pb.ScoreQcSampleRequest(
            sample_id=sample_id, score=body.score, passed=body.passed, findings=body.findings
        )
    )
    return QcSample.from_proto(reply.sample)


@router.get("/api/v1/qc/risk-flags", response_model=RiskFlagPage, dependencies=[Supervisor])
async def list_risk_flags(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    lawyer_id: LawyerId = "",
    limit: Limit = None,
    cursor: Cursor = "",
) -> RiskFlagPage:
    """Risk controls' flags, newest first: an on-site meeting without check-in, two low ratings in a row, a
    reply past due twice."""
    reply = await clients.catalog.ListRiskFlags(
        pb.ListRiskFlagsRequest(lawyer_id=lawyer_id, page=_page(limit, cursor))
    )
    return RiskFlagPage(
        items=[RiskFlag.from_proto(f) for f in reply.flags], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/qc/records", response_model=QualityRecordPage, dependencies=[Supervisor])
async def list_quality_records(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    lawyer_id: LawyerId = "",
    limit: Limit = None,
    cursor: Cursor = "",
) -> QualityRecordPage:
    """Each lawyer's quality record, most failed samples first."""
    reply = await clients.catalog.ListQualityRecords(
        pb.ListQualityRecordsRequest(lawyer_id=lawyer_id, page=_page(limit, cursor))
    )
    return QualityRecordPage(
        items=[QualityRecord.from_proto(r) for r in reply.records], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/question-bank", response_model=QuestionPage, dependencies=[SupervisorOrLawyer])
async def list_questions(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    field: FieldFilter = "",
    limit: Limit = None,
    cursor: Cursor = "",
) -> QuestionPage:
    """The question bank by field and difficulty; lawyers read it without answers and explanations."""
    reply = await clients.catalog.ListQuestions(
        pb.ListQuestionsRequest(field=field, page=_page(limit, cursor))
    )
    return QuestionPage(
        items=[Question.from_proto(q) for q in reply.questions], next_cursor=next_cursor(reply.page)
    )


@router.post(
    "/api/v1/question-bank",
    response_model=Question,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Supervisor],
)
async def create_question(body: CreateQuestion, principal: CurrentPrincipal, clients: ClientsDep) -> Question:
    """A supervisor adds a question; `answer` is the index of the right choice."""
    reply = await clients.catalog.CreateQuestion(
        pb.CreateQuestionRequest(
            question=pb.Question(
                field=body.field,
                difficulty=body.difficulty,
                stem=body.stem,
                choices=body.choices,
                answer=body.answer,
                explanation=body.explanation,
            )
        )
    )
    return Question.from_proto(reply.question)


@router.post(
    "/api/v1/assessments",
    response_model=Assessment,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Lawyer],
)
async def start_assessment(
    body: StartAssessment, principal: CurrentPrincipal, clients: ClientsDep
) -> Assessment:
    """A lawyer starts an assessment of a legal field: a random draw of questions, answers due by `due_at`."""
    reply = await clients.catalog.StartAssessment(pb.StartAssessmentRequest(field=body.field))
    return Assessment.from_proto(reply)


@router.post(
    "/api/v1/assessments/{assessment_id}/answers", response_model=AssessmentScore, dependencies=[Lawyer]
)
async def submit_answers(
    assessment_id: str, body: SubmitAnswers, principal: CurrentPrincipal, clients: ClientsDep
) -> AssessmentScore:
    """Scored at once; after `due_at`, or a second time, 409. Passing makes the lawyer assignable in the
    field."""
    reply = await clients.catalog.SubmitAssessment(
        pb.SubmitAssessmentRequest(assessment_id=assessment_id, answers=body.answers)
    )
    return AssessmentScore(score=reply.score, passed=reply.passed)


@router.get("/api/v1/assessments", response_model=AssessmentResultPage, dependencies=[SupervisorOrLawyer])
async def list_assessment_results(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    lawyer_id: LawyerId = "",
    field: FieldFilter = "",
    limit: Limit = None,
    cursor: Cursor = "",
) -> AssessmentResultPage:
    """Assessment results, newest first: supervisors per lawyer and per field, a lawyer their own."""
    reply = await clients.catalog.ListAssessmentResults(
        pb.ListAssessmentResultsRequest(lawyer_id=lawyer_id, field=field, page=_page(limit, cursor))
    )
    return AssessmentResultPage(
        items=[AssessmentResult.from_proto(r) for r in reply.results], next_cursor=next_cursor(reply.page)
    )

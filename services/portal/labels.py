"""Readable names for the API's codes (stages, statuses, categories, fields), in zh-CN and marked for the message
catalogue: the templates call `label(code)`, which translates one of these into the page's language."""

from __future__ import annotations

from collections.abc import Callable

from services.legal_fields import LABELS as LEGAL_FIELD_LABELS


def N_(message: str) -> str:  # Babel's default keyword for a message marked now, translated when shown
    return message


LABELS: dict[str, str] = {
    "consultation": N_("咨询"),
    "document": N_("文书"),
    "booking": N_("预约"),
    "retainer": N_("常年顾问"),
    "pending_payment": N_("待支付"),
    "paid": N_("已支付"),
    "in_service": N_("服务中"),
    "completed": N_("已完成"),
    "cancelled": N_("已取消"),
    "refunded": N_("已退款"),
    "created": N_("已下单"),
    "awaiting_acknowledgement": N_("待客服确认"),
    "acknowledged": N_("客服已确认"),
    "drafting": N_("起草中"),
    "in_review": N_("审核中"),
    "delivered": N_("已交付"),
    "revising": N_("修改中"),
    "approved": N_("已通过"),
    "rejected": N_("已退回"),
    "done": N_("已完成"),
    "current": N_("进行中"),
    "pending": N_("未开始"),
    "simple": N_("简单"),
    "standard": N_("标准"),
    "complex": N_("复杂"),
    "open": N_("处理中"),
    "submitted": N_("已提交"),
    "assigned": N_("已分配律师"),
    "answered": N_("已答复"),
    "closed": N_("已结束"),
    "client": N_("客户"),
    "client_admin": N_("客户"),
    "lawyer": N_("律师"),
    "agent": N_("客服"),
    "in_progress": N_("处理中"),
    "resolved": N_("已解决"),
    "reopened": N_("已重新打开"),
    "document_order": N_("文书订单"),
    "order": N_("订单"),
    "held": N_("已预留"),
    "confirmed": N_("已确认"),
    "no_show": N_("未到场"),
    "expired": N_("已过期"),
    "at_firm": N_("律所面谈"),
    "on_site": N_("律师上门"),
    "bot": N_("智能助手"),
    "faq": N_("常见问题解答"),
    "chat_bot": N_("智能助手应答中"),
    "chat_queued": N_("排队等待客服"),
    "chat_active": N_("客服服务中"),
    "chat_closed": N_("已结束"),
    "active": N_("有效"),
    # The portal's own refusals of a form field, shown as the API's are (beside the field).
    "amount_in_yuan": N_("请以元为单位填写金额"),
    "file_missing": N_("请选择文件"),
    "whole_years": N_("请填写整数年"),
    # A lawyer's credentials, and why a lawyer takes no new work (the catalog's `unavailable_reason`).
    "verification_none": N_("未提交"),
    "verification_pending": N_("待核验"),
    "verification_verified": N_("已核验"),
    "verification_rejected": N_("未通过"),
    "the lawyer is not active": N_("律师未上线"),
    "the lawyer's credentials are not verified": N_("执业资质尚未核验通过"),
    "the lawyer's firm's cooperation agreement has expired": N_("所在律所的合作协议已到期"),
    "the lawyer's practising certificate is overdue for its annual inspection": N_("执业证已过年检截止日期"),
    # Where a document order's legal field came from (its `assignment_reason`), and why an agent's assignment
    # was refused for the order or the lawyer chosen (the API's 409 reasons).
    "field_from_product": N_("所购产品"),
    "field_from_requirements": N_("需求表"),
    "field_from_classified": N_("智能分类"),
    "field_from_default": N_("默认"),
    "assignment_already_assigned": N_("该订单已有律师，无需再指派"),
    "assignment_not_assignable": N_("该律师目前不能接新业务"),
    "assignment_invalid_transition": N_("该订单已有文稿，不能再指派"),
    # Who decided on a lawyer's credentials.
    "operator": N_("平台运营"),
    "firm_admin": N_("律所管理员"),
    "revoked": N_("已注销"),
    "ringing": N_("等待律师接听"),
    "connected": N_("通话中"),
    "ended": N_("已结束"),
    "low": N_("低"),
    "medium": N_("中"),
    "high": N_("高"),
    "identity_verified": N_("已核实身份"),
    "needs_understood": N_("已了解需求"),
    "advice_given": N_("已给出意见"),
    "risks_explained": N_("已说明风险"),
    "follow_up_agreed": N_("已约定后续"),
    "client_role": N_("成员"),
    "client_admin_role": N_("管理员"),
    "news": N_("法律资讯"),
    "case": N_("案例"),
    "contract_template": N_("合同范本"),
    "article_draft": N_("草稿"),
    "article_submitted": N_("待审核"),
    "article_rejected": N_("被退回"),
    "voucher_issued": N_("已出凭证"),
    "invoice_issued": N_("已开发票"),
    "fulfilment_started": N_("服务已开始"),
    "team_formed": N_("团队已组建"),
    "conclusion_drafted": N_("结论待签署"),
    "concluded": N_("结论已签署"),
    # The legal fields' labels live with the fields (services/legal_fields), not among the portal's messages;
    # the catalogue translates them all the same (tests/unit/test_portal.py checks it).
    **LEGAL_FIELD_LABELS,
}


def label(code: str, gettext: Callable[[str], str]) -> str:
    """The code's name in the page's language; a code without one is shown as it is."""
    name = LABELS.get(code)
    return gettext(name) if name is not None else code

//! A component's template library (drafts from the developer tools → templates): read with the
//! component token, changed by tenant admins for their own components and platform admins for
//! the shared ones (the edges decide who; this audits against the component).

use serde_json::json;

use super::{invalid, label, CodeActor, CodeError};
use crate::domain::{AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::engine::Engine;
use crate::wechat::code::{Template, TemplateDraft};

/// A change to the template library.
#[derive(Debug, Clone, Copy)]
pub enum LibraryChange {
    AddDraft { draft_id: i64, template_type: i64 },
    Delete { template_id: i64 },
}

impl Engine {
    /// The component's template library: its drafts and its templates.
    pub async fn code_library(
        &self,
        component: crate::domain::ComponentId,
    ) -> Result<(Vec<TemplateDraft>, Vec<Template>), CodeError> {
        let token = self.library_token(component)?;
        let drafts = self.client.template_drafts(&token).await?;
        let templates = self.client.templates(&token).await?;
        Ok((drafts, templates))
    }

    /// `addtotemplate` / `deletetemplate`, audited against the component.
    pub async fn code_library_change(
        &self,
        component: crate::domain::ComponentId,
        tenant: Option<TenantId>,
        who: &CodeActor,
        change: LibraryChange,
    ) -> Result<(), CodeError> {
        let token = self.library_token(component)?;
        let (sent, kind, summary, detail) = match change {
            LibraryChange::AddDraft {
                draft_id,
                template_type,
            } => {
                if draft_id < 0 {
                    return Err(invalid("draft_id", "choose a draft", "请选择草稿"));
                }
                if !matches!(template_type, 0 | 1) {
                    return Err(invalid(
                        "template_type",
                        "a template is ordinary (0) or standard (1)",
                        "模板类型为普通（0）或标准（1）",
                    ));
                }
                (
                    self.client
                        .add_to_template(&token, draft_id, template_type)
                        .await,
                    AuditKind::CodeTemplateAdded,
                    format!("{} made draft {draft_id} a template", label(&who.actor)),
                    json!({ "draft_id": draft_id, "template_type": template_type }),
                )
            }
            LibraryChange::Delete { template_id } => {
                if template_id <= 0 {
                    return Err(invalid("template_id", "choose a template", "请选择模板"));
                }
                (
                    self.client.delete_template(&token, template_id).await,
                    AuditKind::CodeTemplateDeleted,
                    format!("{} deleted template {template_id}", label(&who.actor)),
                    json!({ "template_id": template_id }),
                )
            }
        };
        let (outcome, detail, summary) = match &sent {
            Ok(()) => (Outcome::Ok, detail, summary),
            Err(e) => (
                Outcome::Failed,
                json!({ "change": detail, "errcode": e.errcode(), "failure": e.label() }),
                format!("{summary} — refused: {}", e.label()),
            ),
        };
        let audit = NewAuditEvent::new(who.actor.clone(), kind, outcome, summary, crate::now_ms())
            .tenant(tenant)
            .component(component)
            .ip(who.ip)
            .detail(detail);
        self.store.append_audit(&audit).await?;
        sent.map_err(CodeError::Wechat)
    }
}

//! `opl schema`: the JSON Schemas generated from the schema definition.

use super::{Ctx, Outcome, emit};
use crate::cli::{SchemaArgs, SchemaKind};

/// Runs `opl schema`.
pub fn run(ctx: &mut Ctx, args: &SchemaArgs) -> Outcome {
    let s = match args.kind {
        SchemaKind::Layer => crate::model::schema::layer_json_schema(),
        SchemaKind::Effective => crate::model::schema::effective_json_schema(),
    };
    emit(ctx.out, &crate::output::json_text(&s))?;
    Ok(crate::EXIT_CLEAN)
}

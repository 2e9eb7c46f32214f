//! `scan [with_match_id=Id] [declare (c: type = default, ...)] with (step s1: cond => c = e;
//! ...)`: a state machine over the rows in input order.
//!
//! Each step holds the state of at most one match: the row values (and declared columns) the
//! match had at each of its steps. A row is tried against the steps from last to first: step
//! k takes it when step k-1 has a state and the row meets step k's condition (the match moves
//! on to step k), or when step k has a state and the row meets its condition (the match stays
//! at step k); step 1 starts a new match. The first step that takes the row decides, and the
//! row is output with the match's declared columns and id (unless the step says
//! `output=none`).
//!
//! Conditions and assignments are lowered once, against the row's columns, the declared
//! columns (their defaults) and every step's state as columns named `step.column` (declared
//! columns hold their defaults until the match reaches the step), and evaluated per row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::Schema;
use datafusion::common::{DFSchema, DataFusionError};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::scalar::ScalarValue;
use goshawk_kql_syntax::Span;
use goshawk_kql_syntax::ast::{ExprKind, OperatorParam, ScanDeclaration, ScanStep};
use goshawk_types::KustoType;

use super::expr::convert_to;
use super::fold::fold_constant;
use super::literal::kusto_type_of_scalar;
use super::materialize::{Materialize, RowsFn};
use super::{Env, PlanResult, Planner, Tab, df_error, error, unsupported};
use crate::catalog::KustoColumn;

/// What a step outputs for the rows it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StepOutput {
    All,
    None,
}

/// A step's lowered condition and assignments (declared column index, expression).
#[derive(Clone)]
struct LoweredStep {
    condition: Expr,
    assignments: Vec<(usize, Expr)>,
    output: StepOutput,
}

/// One match in progress: the declared columns and each step's row (row values followed by
/// the declared columns then), `None` for steps the match has not reached.
#[derive(Clone)]
struct MatchState {
    id: i64,
    declared: Vec<ScalarValue>,
    steps: Vec<Option<Vec<ScalarValue>>>,
}

struct Machine {
    /// Types of the row columns, then of the declared columns.
    types: Vec<KustoType>,
    inputs: usize,
    defaults: Vec<ScalarValue>,
    steps: Vec<PhysicalStep>,
    schema: Arc<Schema>,
}

struct PhysicalStep {
    condition: Arc<dyn PhysicalExpr>,
    assignments: Vec<(usize, Arc<dyn PhysicalExpr>)>,
    output: StepOutput,
}

impl Machine {
    /// The one-row evaluation batch: row `row` of `batch`, the declared values and the steps'
    /// states.
    fn context(
        &self,
        batch: &RecordBatch,
        row: usize,
        state: &MatchState,
    ) -> Result<RecordBatch, DataFusionError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for c in 0..self.inputs {
            columns.push(batch.column(c).slice(row, 1));
        }
        // A bare declared column is its default; `s.c` is step s's value, the default while
        // the match has not reached s.
        for value in &self.defaults {
            columns.push(value.to_array()?);
        }
        for step in &state.steps {
            for (i, ty) in self.types.iter().enumerate() {
                match step {
                    Some(values) => columns.push(values[i].to_array()?),
                    None if i >= self.inputs => {
                        columns.push(self.defaults[i - self.inputs].to_array()?)
                    }
                    None => columns.push(arrow::array::new_null_array(&ty.arrow_type(), 1)),
                }
            }
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    fn holds(&self, step: usize, context: &RecordBatch) -> Result<bool, DataFusionError> {
        let value = self.steps[step]
            .condition
            .evaluate(context)?
            .into_array(1)?;
        let flags = value.as_boolean();
        Ok(flags.is_valid(0) && flags.value(0))
    }

    /// `state` taking the row at step `step`: assignments, then the step's row.
    fn advance(
        &self,
        step: usize,
        context: &RecordBatch,
        mut state: MatchState,
    ) -> Result<MatchState, DataFusionError> {
        let mut declared = state.declared.clone();
        for (index, expr) in &self.steps[step].assignments {
            let value = expr.evaluate(context)?.into_array(1)?;
            declared[*index] = ScalarValue::try_from_array(&value, 0)?;
        }
        let mut row: Vec<ScalarValue> = (0..self.inputs)
            .map(|c| ScalarValue::try_from_array(context.column(c), 0))
            .collect::<Result<_, _>>()?;
        row.extend(declared.iter().cloned());
        state.declared = declared;
        state.steps[step] = Some(row);
        Ok(state)
    }

    /// Runs the rows; returns (row, declared values, match id) for every output row.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        batch: &RecordBatch,
    ) -> Result<Vec<(u32, Vec<ScalarValue>, i64)>, DataFusionError> {
        let count = self.steps.len();
        let mut states: Vec<Option<MatchState>> = vec![None; count];
        let mut next_id = 0;
        let mut out = Vec::new();
        for row in 0..batch.num_rows() {
            for k in (0..count).rev() {
                let mut taken: Option<MatchState> = None;
                if k > 0
                    && let Some(previous) = &states[k - 1]
                {
                    let context = self.context(batch, row, previous)?;
                    if self.holds(k, &context)? {
                        taken = Some(self.advance(k, &context, previous.clone())?);
                        states[k - 1] = None;
                    }
                }
                if taken.is_none()
                    && let Some(current) = &states[k]
                {
                    let context = self.context(batch, row, current)?;
                    if self.holds(k, &context)? {
                        taken = Some(self.advance(k, &context, current.clone())?);
                    }
                }
                if taken.is_none() && k == 0 && states[0].is_none() {
                    let fresh = MatchState {
                        id: next_id,
                        declared: self.defaults.clone(),
                        steps: vec![None; count],
                    };
                    let context = self.context(batch, row, &fresh)?;
                    if self.holds(0, &context)? {
                        next_id += 1;
                        taken = Some(self.advance(0, &context, fresh)?);
                    }
                }
                if let Some(state) = taken {
                    if self.steps[k].output == StepOutput::All {
                        out.push((row as u32, state.declared.clone(), state.id));
                    }
                    states[k] = Some(state);
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Planner<'_> {
    pub(super) fn plan_scan(
        &self,
        tab: Tab,
        params: &[OperatorParam],
        declare: &[ScanDeclaration],
        steps: &[ScanStep],
        env: &Env,
        span: Span,
    ) -> PlanResult<Tab> {
        let mut match_id: Option<String> = None;
        for param in params {
            match (param.name.name.as_str(), &param.value.kind) {
                ("with_match_id", ExprKind::Name(name)) => match_id = Some(name.name.clone()),
                (name, _) if name.starts_with("hint.") => {}
                (name, _) => {
                    return Err(unsupported(
                        &format!("the scan option '{name}'"),
                        param.span,
                    ));
                }
            }
        }
        if steps.is_empty() {
            return Err(error("scan needs at least one step", span));
        }
        let mut row_columns: Vec<KustoColumn> = tab.columns.clone();
        let mut defaults = Vec::new();
        for declaration in declare {
            super::check_new_name(&declaration.column.name)?;
            let ty = kusto_type_of_scalar(declaration.column.ty.value);
            let default = match &declaration.default {
                Some(expr) => {
                    let typed = convert_to(self.lower_expr(expr, &[], env)?, ty);
                    fold_constant(&typed.expr).ok_or_else(|| {
                        error("a scan declaration's default must be a constant", expr.span)
                    })?
                }
                None => ScalarValue::try_from(&ty.arrow_type())
                    .map_err(|e| df_error(e, declaration.span))?,
            };
            // Constants fold to the value's own Arrow type; keep the column's.
            let default = default
                .cast_to(&ty.arrow_type())
                .map_err(|e| df_error(e, declaration.span))?;
            defaults.push(default);
            row_columns.push(KustoColumn::new(&declaration.column.name.name, ty));
        }
        let mut eval_columns = row_columns.clone();
        for step in steps {
            for column in &row_columns {
                eval_columns.push(KustoColumn::new(
                    format!("{}.{}", step.name.name, column.name),
                    column.ty,
                ));
            }
        }
        let inputs = tab.columns.len();
        let mut lowered = Vec::new();
        for step in steps {
            let condition = convert_to(
                self.lower_expr(&step.condition, &eval_columns, env)?,
                KustoType::Bool,
            )
            .expr;
            let mut assignments = Vec::new();
            for assignment in &step.assignments {
                let [name] = assignment.names.as_slice() else {
                    return Err(error(
                        "a scan assignment sets one declared column",
                        assignment.span,
                    ));
                };
                let Some(index) = declare.iter().position(|d| d.column.name.name == name.name)
                else {
                    return Err(error(
                        format!("'{}' is not a declared scan column", name.name),
                        name.span,
                    ));
                };
                let ty = row_columns[inputs + index].ty;
                let value = convert_to(self.lower_expr(&assignment.expr, &eval_columns, env)?, ty);
                assignments.push((index, value.expr));
            }
            let output = match step.output.as_ref().map(|o| o.name.as_str()) {
                None | Some("all") => StepOutput::All,
                Some("none") => StepOutput::None,
                Some(other) => {
                    return Err(unsupported(
                        &format!("scan steps with output={other}"),
                        step.span,
                    ));
                }
            };
            lowered.push(LoweredStep {
                condition,
                assignments,
                output,
            });
        }

        let mut out_columns = row_columns.clone();
        if let Some(name) = &match_id {
            out_columns.push(KustoColumn::new(name, KustoType::Long));
        }
        let eval_schema = Arc::new(Schema::new(
            eval_columns
                .iter()
                .map(|c| c.ty.field(&c.name))
                .collect::<Vec<_>>(),
        ));
        let types: Vec<KustoType> = row_columns.iter().map(|c| c.ty).collect();
        let with_id = match_id.is_some();
        let func: RowsFn = Arc::new(move |in_schema, batches, out_schema| {
            let batch = arrow::compute::concat_batches(in_schema, batches)?;
            let machine = compile(&lowered, &eval_schema, &types, inputs, &defaults)?;
            let matched = machine.run(&batch)?;
            let take = UInt32Array::from(matched.iter().map(|m| m.0).collect::<Vec<_>>());
            let mut columns: Vec<ArrayRef> = (0..inputs)
                .map(|c| arrow::compute::take(batch.column(c).as_ref(), &take, None))
                .collect::<Result<_, _>>()?;
            for (d, ty) in types[inputs..].iter().enumerate() {
                let array = if matched.is_empty() {
                    arrow::array::new_empty_array(&ty.arrow_type())
                } else {
                    ScalarValue::iter_to_array(matched.iter().map(|m| m.1[d].clone()))?
                };
                columns.push(arrow::compute::cast(&array, &ty.arrow_type())?);
            }
            if with_id {
                columns.push(Arc::new(Int64Array::from(
                    matched.iter().map(|m| m.2).collect::<Vec<_>>(),
                )));
            }
            Ok(RecordBatch::try_new(Arc::clone(out_schema), columns)?)
        });
        let plan = Materialize::plan("scan", tab.plan, &out_columns, func)
            .map_err(|e| df_error(e, span))?;
        Ok(Tab {
            plan,
            columns: out_columns,
            render: tab.render,
        })
    }
}

/// Physical expressions of the steps over the evaluation schema.
fn compile(
    steps: &[LoweredStep],
    schema: &Arc<Schema>,
    types: &[KustoType],
    inputs: usize,
    defaults: &[ScalarValue],
) -> Result<Machine, DataFusionError> {
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let simplifier = ExprSimplifier::new(SimplifyContext::default());
    let props = ExecutionProps::new();
    let context = PhysicalPlanningContext::default();
    let physical = |expr: &Expr| -> Result<Arc<dyn PhysicalExpr>, DataFusionError> {
        let coerced = simplifier.coerce(expr.clone(), &df_schema)?;
        datafusion::physical_expr::create_physical_expr(&coerced, &df_schema, &props, &context)
    };
    let mut compiled = Vec::new();
    for step in steps {
        compiled.push(PhysicalStep {
            condition: physical(&step.condition)?,
            assignments: step
                .assignments
                .iter()
                .map(|(index, expr)| Ok((*index, physical(expr)?)))
                .collect::<Result<_, DataFusionError>>()?,
            output: step.output,
        });
    }
    Ok(Machine {
        types: types.to_vec(),
        inputs,
        defaults: defaults.to_vec(),
        steps: compiled,
        schema: Arc::clone(schema),
    })
}

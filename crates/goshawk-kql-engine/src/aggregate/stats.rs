//! More aggregation functions: the conditional spreads (`stdevif`, `varianceif`,
//! `variancepif`), the covariances, `binary_all_and`/`_or`/`_xor`, `buildschema`, and the
//! array-valued percentiles (`percentiles_array`, `percentilesw_array`, and the single
//! weighted `percentilew`).
//!
//! Each accumulator implements [`Fold`]: how rows are added, how its partial state is written
//! and read back, and the result. One generic [`Folded`] adapter turns a `Fold` into a
//! DataFusion [`Accumulator`], so the state plumbing (one Binary column, merging every state
//! of a batch) is written once.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::Accumulator;
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{AggregateCall, DistinctCounter, KustoAggregate, accuracy_precision};
use crate::error::EngineError;
use crate::format::string_value;
use crate::scalar::{is_numeric, returns, to_bool_array, to_long_array, to_real_array};

/// The per-group state of an aggregate whose partial state travels as bytes.
trait Fold: std::fmt::Debug + Send + Sync + 'static {
    /// Adds the rows of `values` (of Kusto `types`) where `selected` (the `...if` predicate)
    /// holds.
    fn add(
        &mut self,
        values: &[ArrayRef],
        types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()>;
    /// The partial state.
    fn encode(&self) -> Vec<u8>;
    /// Merges a partial state written by [`Fold::encode`]; `None` if it is unreadable.
    fn merge(&mut self, bytes: &[u8]) -> Option<()>;
    /// The result.
    fn result(&self) -> ScalarValue;
}

/// A [`Fold`] as a DataFusion [`Accumulator`]; `predicate` is the index of a bool argument
/// that selects rows (the `...if` forms).
#[derive(Debug)]
struct Folded<F: Fold> {
    name: &'static str,
    fold: F,
    predicate: Option<usize>,
    types: Vec<KustoType>,
}

impl<F: Fold> Accumulator for Folded<F> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask: Option<BooleanArray> = match self.predicate {
            Some(i) => Some(to_bool_array(&values[i], self.types[i])?),
            None => None,
        };
        let selected = |row: usize| {
            mask.as_ref()
                .is_none_or(|m| m.is_valid(row) && m.value(row))
        };
        self.fold.add(values, &self.types, &selected)
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(self.fold.result())
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.fold.encode().len()
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.fold.encode()))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let corrupt = || {
            datafusion::error::DataFusionError::Internal(format!(
                "{}: unreadable partial state",
                self.name
            ))
        };
        let states = states
            .first()
            .and_then(|s| s.as_binary_opt::<i32>())
            .ok_or_else(corrupt)?;
        for bytes in states.iter().flatten() {
            self.fold.merge(bytes).ok_or_else(corrupt)?;
        }
        Ok(())
    }
}

/// An aggregate over a [`Fold`] built by `make` from the call.
fn folded<F: Fold>(
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    return_rule: crate::scalar::ReturnRule,
    predicate: Option<usize>,
    make: impl Fn(&AggregateCall) -> DFResult<F> + Send + Sync + 'static,
) -> KustoAggregate {
    KustoAggregate::new(
        name,
        min_args,
        max_args,
        return_rule,
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(Folded {
                name,
                fold: make(call)?,
                predicate,
                types: call.types.clone(),
            }) as Box<dyn Accumulator>)
        }),
    )
}

fn read_f64s<const N: usize>(bytes: &[u8]) -> Option<[f64; N]> {
    if bytes.len() != N * 8 {
        return None;
    }
    let mut out = [0.0; N];
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = f64::from_le_bytes(chunk.try_into().ok()?);
    }
    Some(out)
}

fn write_f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Return rule: a real, from numeric arguments before `numeric_args`.
fn real_of_numbers(numeric_args: usize) -> crate::scalar::ReturnRule {
    Arc::new(move |name, args| {
        for (position, ty) in args.iter().take(numeric_args).enumerate() {
            if !is_numeric(*ty) && *ty != KustoType::Dynamic {
                return Err(EngineError::ArgumentType {
                    name: name.to_string(),
                    position: position + 1,
                    expected: "a number".to_string(),
                    got: ty.to_string(),
                });
            }
        }
        Ok(KustoType::Real)
    })
}

// ---------------------------------------------------------------- variance / covariance

/// Count, means and co-moment of (x, y) pairs, merged with Chan's parallel formula; for a
/// variance `y` is `x`.
#[derive(Debug, Default)]
struct CoMoments {
    /// Whether there is a second argument (covariance) rather than one (variance).
    paired: bool,
    /// Population (`...p`) rather than sample statistics.
    population: bool,
    /// Report the square root (`stdev...`).
    root: bool,
    count: f64,
    mean_x: f64,
    mean_y: f64,
    comoment: f64,
}

impl CoMoments {
    fn push(&mut self, count: f64, mean_x: f64, mean_y: f64, comoment: f64) {
        if count == 0.0 {
            return;
        }
        let total = self.count + count;
        let dx = mean_x - self.mean_x;
        let dy = mean_y - self.mean_y;
        self.comoment += comoment + dx * dy * self.count * count / total;
        self.mean_x += dx * count / total;
        self.mean_y += dy * count / total;
        self.count = total;
    }
}

impl Fold for CoMoments {
    fn add(
        &mut self,
        values: &[ArrayRef],
        types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()> {
        let xs = to_real_array(&values[0], types[0])?;
        let ys = if self.paired {
            to_real_array(&values[1], types[1])?
        } else {
            xs.clone()
        };
        for row in 0..xs.len() {
            if xs.is_valid(row) && ys.is_valid(row) && selected(row) {
                self.push(1.0, xs.value(row), ys.value(row), 0.0);
            }
        }
        Ok(())
    }
    fn encode(&self) -> Vec<u8> {
        write_f64s(&[self.count, self.mean_x, self.mean_y, self.comoment])
    }
    fn merge(&mut self, bytes: &[u8]) -> Option<()> {
        let [count, mean_x, mean_y, comoment] = read_f64s::<4>(bytes)?;
        self.push(count, mean_x, mean_y, comoment);
        Some(())
    }
    fn result(&self) -> ScalarValue {
        // Kusto reports no spread (0) for a single value and for none.
        let divisor = if self.population {
            self.count
        } else {
            self.count - 1.0
        };
        let value = if divisor <= 0.0 {
            0.0
        } else {
            self.comoment / divisor
        };
        ScalarValue::Float64(Some(if self.root { value.sqrt() } else { value }))
    }
}

fn spread(
    name: &'static str,
    paired: bool,
    population: bool,
    root: bool,
    conditional: bool,
) -> KustoAggregate {
    let values = if paired { 2 } else { 1 };
    let arity = values + usize::from(conditional);
    folded(
        name,
        arity,
        Some(arity),
        real_of_numbers(values),
        conditional.then_some(values),
        move |_| {
            Ok(CoMoments {
                paired,
                population,
                root,
                ..CoMoments::default()
            })
        },
    )
}

// ---------------------------------------------------------------- binary_all_*

#[derive(Clone, Copy, Debug)]
enum BitOp {
    And,
    Or,
    Xor,
}

/// `binary_all_and`/`_or`/`_xor` of the non-null values; null when there are none.
#[derive(Debug)]
struct Bits {
    op: BitOp,
    value: Option<i64>,
}

impl Bits {
    fn combine(&mut self, v: i64) {
        self.value = Some(match (self.value, self.op) {
            (None, _) => v,
            (Some(a), BitOp::And) => a & v,
            (Some(a), BitOp::Or) => a | v,
            (Some(a), BitOp::Xor) => a ^ v,
        });
    }
}

impl Fold for Bits {
    fn add(
        &mut self,
        values: &[ArrayRef],
        types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()> {
        let longs = to_long_array(&values[0], types[0])?;
        for row in 0..longs.len() {
            if longs.is_valid(row) && selected(row) {
                self.combine(longs.value(row));
            }
        }
        Ok(())
    }
    fn encode(&self) -> Vec<u8> {
        self.value
            .map(|v| v.to_le_bytes().to_vec())
            .unwrap_or_default()
    }
    fn merge(&mut self, bytes: &[u8]) -> Option<()> {
        if !bytes.is_empty() {
            self.combine(i64::from_le_bytes(bytes.try_into().ok()?));
        }
        Some(())
    }
    fn result(&self) -> ScalarValue {
        ScalarValue::Int64(self.value)
    }
}

fn bits(name: &'static str, op: BitOp) -> KustoAggregate {
    folded(
        name,
        1,
        Some(1),
        Arc::new(|name, args| match args.first() {
            Some(KustoType::Int | KustoType::Long | KustoType::Dynamic) => Ok(KustoType::Long),
            other => Err(EngineError::ArgumentType {
                name: name.to_string(),
                position: 1,
                expected: "an int or long".to_string(),
                got: other.map_or_else(|| "nothing".into(), |t| t.to_string()),
            }),
        }),
        None,
        move |_| Ok(Bits { op, value: None }),
    )
}

// ---------------------------------------------------------------- buildschema

/// The schema of one JSON value: a type name, or an object of member schemas (arrays are an
/// object with the single member `` `indexer` ``).
fn schema_of(value: &Value) -> Option<Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => Value::from("bool"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::from("long"),
        Value::Number(_) => Value::from("double"),
        Value::String(_) => Value::from("string"),
        Value::Array(items) => {
            let mut element = None;
            for item in items {
                if let Some(schema) = schema_of(item) {
                    element = Some(match element {
                        None => schema,
                        Some(current) => merge_schema(current, schema),
                    });
                }
            }
            let mut map = Map::new();
            if let Some(element) = element {
                map.insert("`indexer`".to_string(), element);
            }
            Value::Object(map)
        }
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), schema_of(v)?)))
                .collect(),
        ),
    })
}

/// Merges two schemas: alternatives are kept in first-seen order (a list when there are
/// several), and the object alternatives merge member by member.
fn merge_schema(left: Value, right: Value) -> Value {
    let alternatives = |v: Value| match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut merged: Vec<Value> = alternatives(left);
    for alternative in alternatives(right) {
        match alternative {
            Value::Object(members) => match merged.iter_mut().find(|m| m.is_object()) {
                Some(Value::Object(existing)) => {
                    for (key, schema) in members {
                        match existing.get_mut(&key) {
                            Some(current) => *current = merge_schema(current.take(), schema),
                            None => {
                                existing.insert(key, schema);
                            }
                        }
                    }
                }
                _ => merged.push(Value::Object(members)),
            },
            other => {
                if !merged.contains(&other) {
                    merged.push(other);
                }
            }
        }
    }
    if merged.len() == 1 {
        merged.remove(0)
    } else {
        Value::Array(merged)
    }
}

#[derive(Debug, Default)]
struct Schema {
    schema: Option<Value>,
}

impl Schema {
    fn absorb(&mut self, schema: Value) {
        self.schema = Some(match self.schema.take() {
            None => schema,
            Some(current) => merge_schema(current, schema),
        });
    }
}

impl Fold for Schema {
    fn add(
        &mut self,
        values: &[ArrayRef],
        _types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()> {
        let array = &values[0];
        for row in 0..array.len() {
            if !selected(row) {
                continue;
            }
            let value = string_value(array.as_ref(), row).map(crate::dynamic::parse_lenient);
            if let Some(schema) = value.as_ref().and_then(schema_of) {
                self.absorb(schema);
            }
        }
        Ok(())
    }
    fn encode(&self) -> Vec<u8> {
        self.schema
            .as_ref()
            .map(|s| s.to_string().into_bytes())
            .unwrap_or_default()
    }
    fn merge(&mut self, bytes: &[u8]) -> Option<()> {
        if !bytes.is_empty() {
            self.absorb(serde_json::from_slice(bytes).ok()?);
        }
        Some(())
    }
    fn result(&self) -> ScalarValue {
        ScalarValue::Utf8(self.schema.as_ref().map(Value::to_string))
    }
}

// ---------------------------------------------------------------- weighted percentiles

/// Every (value, weight) pair, for the nearest-rank percentiles by cumulative weight: the
/// smallest value whose cumulative weight reaches `p`% of the total (a weight of 1 per row
/// without a weight argument). Kusto's T-Digest gives the same answer on small inputs.
#[derive(Debug)]
struct Weighted {
    weighted: bool,
    integral: bool,
    percents: Vec<f64>,
    /// Report an array of all percents rather than the single one.
    array: bool,
    pairs: Vec<(f64, i64)>,
}

impl Weighted {
    fn at(&self, sorted: &[(f64, i64)], total: i64, percent: f64) -> Option<f64> {
        let wanted = ((percent / 100.0) * total as f64).ceil().max(1.0);
        let mut running = 0_i64;
        for &(value, weight) in sorted {
            running += weight;
            if running as f64 >= wanted {
                return Some(value);
            }
        }
        sorted.last().map(|&(v, _)| v)
    }

    fn json(&self, value: f64) -> Value {
        if self.integral {
            Value::from(value as i64)
        } else {
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
        }
    }
}

impl Fold for Weighted {
    fn add(
        &mut self,
        values: &[ArrayRef],
        types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()> {
        let xs = to_real_array(&values[0], types[0])?;
        let weights = if self.weighted {
            Some(to_long_array(&values[1], types[1])?)
        } else {
            None
        };
        for row in 0..xs.len() {
            if !xs.is_valid(row) || xs.value(row).is_nan() || !selected(row) {
                continue;
            }
            let weight = match &weights {
                Some(w) if w.is_valid(row) && w.value(row) > 0 => w.value(row),
                Some(_) => continue,
                None => 1,
            };
            self.pairs.push((xs.value(row), weight));
        }
        Ok(())
    }
    fn encode(&self) -> Vec<u8> {
        self.pairs
            .iter()
            .flat_map(|(v, w)| v.to_le_bytes().into_iter().chain(w.to_le_bytes()))
            .collect()
    }
    fn merge(&mut self, bytes: &[u8]) -> Option<()> {
        if !bytes.len().is_multiple_of(16) {
            return None;
        }
        for chunk in bytes.chunks_exact(16) {
            let value = f64::from_le_bytes(chunk[..8].try_into().ok()?);
            let weight = i64::from_le_bytes(chunk[8..].try_into().ok()?);
            self.pairs.push((value, weight));
        }
        Some(())
    }
    fn result(&self) -> ScalarValue {
        let mut sorted = self.pairs.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: i64 = sorted.iter().map(|&(_, w)| w).sum();
        let answers: Vec<Option<f64>> = self
            .percents
            .iter()
            .map(|&p| self.at(&sorted, total, p))
            .collect();
        if self.array {
            let items: Vec<Value> = answers
                .into_iter()
                .map(|a| a.map_or(Value::Null, |v| self.json(v)))
                .collect();
            return ScalarValue::Utf8(
                (!sorted.is_empty()).then(|| Value::Array(items).to_string()),
            );
        }
        let answer = answers.first().copied().flatten();
        if self.integral {
            ScalarValue::Int64(answer.map(|v| v as i64))
        } else {
            ScalarValue::Float64(answer)
        }
    }
}

/// The percents of a percentiles call from argument `first` on: literal numbers, or one
/// literal dynamic array of numbers.
fn constant_percents(call: &AggregateCall, first: usize) -> DFResult<Vec<f64>> {
    let invalid = |detail: String| EngineError::InvalidArgument {
        name: call.name.clone(),
        message: detail,
    };
    let mut percents = Vec::new();
    for index in first..call.constants.len() {
        let value = call.constants[index]
            .clone()
            .ok_or_else(|| invalid("the percentiles must be constants".into()))?;
        if call.types[index] == KustoType::Dynamic {
            let text = match &value {
                ScalarValue::Utf8(Some(t)) | ScalarValue::LargeUtf8(Some(t)) => t.clone(),
                other => other.to_string(),
            };
            let items = crate::dynamic::parse_lenient(&text);
            for item in items.as_array().into_iter().flatten() {
                percents
                    .push(item.as_f64().ok_or_else(|| {
                        invalid(format!("the percentile {item} is not a number"))
                    })?);
            }
        } else {
            match value.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(p))) => percents.push(p),
                _ => return Err(invalid(format!("the percentile {value} is not a number")).into()),
            }
        }
    }
    if let Some(bad) = percents.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        return Err(invalid(format!(
            "the percentile must be between 0 and 100, got {bad}"
        ))
        .into());
    }
    if percents.is_empty() {
        return Err(invalid("expects at least one percentile".into()).into());
    }
    Ok(percents)
}

fn integral_input(ty: KustoType) -> bool {
    matches!(ty, KustoType::Int | KustoType::Long | KustoType::Bool)
}

fn percentiles(name: &'static str, weighted: bool, array: bool) -> KustoAggregate {
    let first_percent = if weighted { 2 } else { 1 };
    let max_args = if array { None } else { Some(first_percent + 1) };
    folded(
        name,
        first_percent + 1,
        max_args,
        Arc::new(move |name, args| {
            let ty = args.first().copied().unwrap_or(KustoType::Dynamic);
            if !is_numeric(ty) && ty != KustoType::Dynamic {
                return Err(EngineError::ArgumentType {
                    name: name.to_string(),
                    position: 1,
                    expected: "a number".to_string(),
                    got: ty.to_string(),
                });
            }
            Ok(match (array, integral_input(ty)) {
                (true, _) => KustoType::Dynamic,
                (false, true) => KustoType::Long,
                (false, false) => KustoType::Real,
            })
        }),
        None,
        move |call| {
            Ok(Weighted {
                weighted,
                integral: integral_input(call.types[0]),
                percents: constant_percents(call, first_percent)?,
                array,
                pairs: Vec::new(),
            })
        },
    )
}

// ---------------------------------------------------------------- hll

/// An `hll()` result as a dynamic value: `["hll", "<base64 of the counter>"]`, read by
/// `dcount_hll` and `hll_merge`.
pub fn hll_to_json(counter: &DistinctCounter) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.encode(counter.to_bytes());
    Value::Array(vec![Value::from("hll"), Value::from(bytes)])
}

/// Reads a value written by [`hll_to_json`] from dynamic text.
pub fn hll_from_text(text: &str) -> Option<DistinctCounter> {
    use base64::Engine as _;
    let value = crate::dynamic::parse_lenient(text);
    let [tag, bytes] = value.as_array()?.as_slice() else {
        return None;
    };
    if tag.as_str() != Some("hll") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(bytes.as_str()?)
        .ok()?;
    DistinctCounter::from_bytes(&bytes)
}

/// `hll(x [, accuracy])`, `hll_if(x, predicate [, accuracy])` and `hll_merge(hll)`.
#[derive(Debug)]
struct Hll {
    merging: bool,
    /// Whether `counter` holds data: `hll_merge` takes the precision of the first sketch.
    seeded: bool,
    counter: DistinctCounter,
}

impl Hll {
    fn absorb(&mut self, other: DistinctCounter) {
        if self.seeded {
            self.counter.merge(&other);
        } else {
            self.counter = other;
            self.seeded = true;
        }
    }
}

impl Fold for Hll {
    fn add(
        &mut self,
        values: &[ArrayRef],
        types: &[KustoType],
        selected: &dyn Fn(usize) -> bool,
    ) -> DFResult<()> {
        if !self.merging {
            self.counter
                .add_array(values[0].as_ref(), types[0], selected);
            return Ok(());
        }
        for row in 0..values[0].len() {
            let Some(text) = string_value(values[0].as_ref(), row) else {
                continue;
            };
            let other = hll_from_text(text).ok_or_else(|| {
                datafusion::error::DataFusionError::Execution(
                    "hll_merge: the value is not an hll() result".into(),
                )
            })?;
            self.absorb(other);
        }
        Ok(())
    }
    fn encode(&self) -> Vec<u8> {
        // An unseeded merge has seen no sketch, so it has no precision to pass on.
        if self.seeded {
            self.counter.to_bytes()
        } else {
            Vec::new()
        }
    }
    fn merge(&mut self, bytes: &[u8]) -> Option<()> {
        if !bytes.is_empty() {
            self.absorb(DistinctCounter::from_bytes(bytes)?);
        }
        Some(())
    }
    fn result(&self) -> ScalarValue {
        ScalarValue::Utf8(Some(hll_to_json(&self.counter).to_string()))
    }
}

fn hll(name: &'static str, predicate: bool) -> KustoAggregate {
    let accuracy_index = if predicate { 2 } else { 1 };
    folded(
        name,
        accuracy_index,
        Some(accuracy_index + 1),
        returns(KustoType::Dynamic),
        predicate.then_some(1),
        move |call| {
            let level = call.constant_usize(accuracy_index, "the accuracy level", 1)?;
            let precision =
                accuracy_precision(level).ok_or_else(|| EngineError::InvalidArgument {
                    name: call.name.clone(),
                    message: format!("accuracy level must be 0 to 4, got {level}"),
                })?;
            Ok(Hll {
                merging: false,
                seeded: true,
                counter: DistinctCounter::new(precision),
            })
        },
    )
}

pub(super) fn functions() -> Vec<KustoAggregate> {
    vec![
        spread("stdevif", false, false, true, true),
        spread("varianceif", false, false, false, true),
        spread("variancepif", false, true, false, true),
        spread("covariance", true, false, false, false),
        spread("covariancep", true, true, false, false),
        spread("covarianceif", true, false, false, true),
        spread("covariancepif", true, true, false, true),
        bits("binary_all_and", BitOp::And),
        bits("binary_all_or", BitOp::Or),
        bits("binary_all_xor", BitOp::Xor),
        folded(
            "buildschema",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            None,
            |_| Ok(Schema::default()),
        ),
        percentiles("percentilew", true, false),
        percentiles("percentiles_array", false, true),
        percentiles("percentilesw_array", true, true),
        hll("hll", false),
        hll("hll_if", true),
        folded(
            "hll_merge",
            1,
            Some(1),
            returns(KustoType::Dynamic),
            None,
            |_| {
                Ok(Hll {
                    merging: true,
                    seeded: false,
                    counter: DistinctCounter::new(accuracy_precision(1).unwrap_or(14)),
                })
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{merge_schema, schema_of};

    #[test]
    fn buildschema_merges_like_the_docs() {
        let rows = [
            json!({"x":1, "y":3.5}),
            json!({"x":"somevalue", "z":[1, 2, 3]}),
            json!({"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]}),
        ];
        let merged = rows
            .iter()
            .filter_map(schema_of)
            .reduce(merge_schema)
            .unwrap_or_default();
        assert_eq!(
            merged.to_string(),
            r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#
        );
    }
}

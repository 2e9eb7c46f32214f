//! The accumulators of the Kusto aggregation functions.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, make_comparator};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result as DFResult, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use goshawk_types::KustoType;
use serde_json::{Map, Value};

use super::{AggregateCall, DistinctCounter, KustoAggregate, accuracy_precision};
use crate::error::EngineError;
use crate::format::{json_at, string_value};
use crate::scalar::{is_numeric, returns, to_bool_array, to_long_array, to_real_array};

/// Kusto's default cap for `make_set`/`make_list`/`make_bag`.
pub const DEFAULT_MAX_SIZE: usize = 1_048_576;

fn binary_states(states: &[ArrayRef]) -> DFResult<impl Iterator<Item = &[u8]>> {
    let array = states.first().ok_or_else(|| {
        datafusion::error::DataFusionError::Internal("aggregate state is missing".into())
    })?;
    let binary = array.as_binary_opt::<i32>().ok_or_else(|| {
        datafusion::error::DataFusionError::Internal("aggregate state is not Binary".into())
    })?;
    Ok(binary.iter().flatten())
}

fn corrupt(name: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Internal(format!("{name}: unreadable partial state"))
}

/// Rows where an `...if` predicate (argument `index`) is true.
fn predicate_mask(
    values: &[ArrayRef],
    index: Option<usize>,
    types: &[KustoType],
) -> DFResult<Option<BooleanArray>> {
    match index {
        Some(i) => Ok(Some(to_bool_array(&values[i], types[i])?)),
        None => Ok(None),
    }
}

fn selected(mask: &Option<BooleanArray>, row: usize) -> bool {
    mask.as_ref()
        .is_none_or(|m| m.is_valid(row) && m.value(row))
}

// ---------------------------------------------------------------- countif

#[derive(Debug)]
struct CountIf {
    count: i64,
    types: Vec<KustoType>,
}

impl Accumulator for CountIf {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask = to_bool_array(&values[0], self.types[0])?;
        self.count += mask.iter().filter(|v| *v == Some(true)).count() as i64;
        Ok(())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.count)))
    }
    fn size(&self) -> usize {
        size_of::<Self>()
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.count.to_le_bytes().to_vec(),
        ))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        for bytes in binary_states(states)? {
            let raw: [u8; 8] = bytes.try_into().map_err(|_| corrupt("countif"))?;
            self.count += i64::from_le_bytes(raw);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- sum / avg

#[derive(Clone, Copy, Debug, PartialEq)]
enum NumberKind {
    Integer,
    Real,
    TimeSpan,
}

fn number_kind(name: &str, ty: KustoType) -> Result<NumberKind, EngineError> {
    match ty {
        KustoType::Int | KustoType::Long | KustoType::Bool => Ok(NumberKind::Integer),
        KustoType::Real | KustoType::Decimal | KustoType::Dynamic => Ok(NumberKind::Real),
        KustoType::TimeSpan => Ok(NumberKind::TimeSpan),
        other => Err(EngineError::ArgumentType {
            name: name.to_string(),
            position: 1,
            expected: "a number or timespan".to_string(),
            got: other.to_string(),
        }),
    }
}

/// Sums and counts for `sum`, `sumif`, `avg`, `avgif`. Integers add with wrap-around (as .NET
/// `long` does), reals in f64.
#[derive(Debug)]
struct SumAvg {
    kind: NumberKind,
    average: bool,
    predicate: Option<usize>,
    types: Vec<KustoType>,
    integer_sum: i64,
    real_sum: f64,
    count: i64,
}

impl SumAvg {
    fn add(
        &mut self,
        values: &ArrayRef,
        ty: KustoType,
        mask: &Option<BooleanArray>,
    ) -> DFResult<()> {
        match self.kind {
            NumberKind::Integer | NumberKind::TimeSpan => {
                let longs = if self.kind == NumberKind::TimeSpan {
                    arrow::compute::cast(values, &DataType::Int64)?
                        .as_primitive::<arrow::datatypes::Int64Type>()
                        .clone()
                } else {
                    to_long_array(values, ty)?
                };
                for row in 0..longs.len() {
                    if longs.is_valid(row) && selected(mask, row) {
                        self.integer_sum = self.integer_sum.wrapping_add(longs.value(row));
                        self.count += 1;
                    }
                }
            }
            NumberKind::Real => {
                let reals = to_real_array(values, ty)?;
                for row in 0..reals.len() {
                    if reals.is_valid(row) && selected(mask, row) {
                        self.real_sum += reals.value(row);
                        self.count += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

impl SumAvg {
    /// A fresh accumulator of the same function and input kind.
    fn same_kind(&self) -> SumAvg {
        SumAvg {
            kind: self.kind,
            average: self.average,
            predicate: self.predicate,
            types: Vec::new(),
            integer_sum: 0,
            real_sum: 0.0,
            count: 0,
        }
    }

    fn result_type(&self) -> DataType {
        match (self.kind, self.average) {
            (NumberKind::TimeSpan, _) => KustoType::TimeSpan.arrow_type(),
            (NumberKind::Integer, false) => DataType::Int64,
            _ => DataType::Float64,
        }
    }
}

impl Accumulator for SumAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask = predicate_mask(values, self.predicate, &self.types)?;
        let ty = self.types[0];
        self.add(&values[0], ty, &mask)
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        let total = match self.kind {
            NumberKind::Real => self.real_sum,
            _ => self.integer_sum as f64,
        };
        if self.average {
            // Kusto's avg of no values is NaN, not null.
            let mean = if self.count == 0 {
                f64::NAN
            } else {
                total / self.count as f64
            };
            return Ok(match self.kind {
                NumberKind::TimeSpan if self.count > 0 => {
                    ScalarValue::DurationNanosecond(Some(mean as i64))
                }
                NumberKind::TimeSpan => ScalarValue::DurationNanosecond(None),
                _ => ScalarValue::Float64(Some(mean)),
            });
        }
        // Kusto's sum of no values is 0, not null.
        Ok(match self.kind {
            NumberKind::Integer => ScalarValue::Int64(Some(self.integer_sum)),
            NumberKind::TimeSpan => ScalarValue::DurationNanosecond(Some(self.integer_sum)),
            NumberKind::Real => ScalarValue::Float64(Some(self.real_sum)),
        })
    }
    fn size(&self) -> usize {
        size_of::<Self>()
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&self.integer_sum.to_le_bytes());
        bytes.extend_from_slice(&self.real_sum.to_le_bytes());
        bytes.extend_from_slice(&self.count.to_le_bytes());
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        for bytes in binary_states(states)? {
            let word = |i: usize| -> DFResult<[u8; 8]> {
                bytes
                    .get(i * 8..i * 8 + 8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| corrupt("sum"))
            };
            self.integer_sum = self.integer_sum.wrapping_add(i64::from_le_bytes(word(0)?));
            self.real_sum += f64::from_le_bytes(word(1)?);
            self.count += i64::from_le_bytes(word(2)?);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- take_any

#[derive(Debug)]
struct TakeAny {
    value: Option<ScalarValue>,
    data_type: DataType,
}

impl Accumulator for TakeAny {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        if self.value.is_none() {
            let array = &values[0];
            if let Some(row) = (0..array.len()).find(|&r| array.is_valid(r)) {
                self.value = Some(ScalarValue::try_from_array(array, row)?);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        match &self.value {
            Some(v) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.value.as_ref().map_or(0, ScalarValue::size)
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        self.update_batch(states)
    }
}

// ---------------------------------------------------------------- make_set / make_list / make_bag

#[derive(Clone, Copy, Debug, PartialEq)]
enum CollectKind {
    Set,
    List,
    Bag,
}

/// `make_set`, `make_list`, `make_bag`, their `_if` forms and `make_list_with_nulls`. As in the
/// real engine: a dynamic array input contributes its elements (one level); nulls of typed
/// columns are skipped, but `make_list` keeps dynamic nulls and `make_list_with_nulls` keeps all
/// nulls; sets skip nulls and keep ""; order is first seen.
#[derive(Debug)]
struct Collect {
    kind: CollectKind,
    keep_nulls: bool,
    max_size: usize,
    predicate: Option<usize>,
    types: Vec<KustoType>,
    items: Vec<Value>,
    /// Set members that are not strings, by their JSON text.
    seen: HashSet<String>,
    /// String set members by their text: a string never equals another kind of value, and
    /// looking the text up needs no JSON escaping or allocation.
    seen_strings: HashSet<String, ahash::RandomState>,
    bag: Map<String, Value>,
}

impl Collect {
    /// Adds one input value (array inputs are flattened one level).
    fn push(&mut self, value: Value) {
        match (self.kind, value) {
            (CollectKind::Bag, value) => self.push_item(value),
            (_, Value::Array(elements)) => {
                for element in elements {
                    self.push_item(element);
                }
            }
            (_, value) => self.push_item(value),
        }
    }

    /// Adds one element of the result (partial states merge through here).
    fn push_item(&mut self, value: Value) {
        match self.kind {
            CollectKind::List => {
                if self.items.len() < self.max_size {
                    self.items.push(value);
                }
            }
            CollectKind::Set => {
                if value.is_null() || self.items.len() >= self.max_size {
                    return;
                }
                let new = match &value {
                    Value::String(text) => {
                        !self.seen_strings.contains(text.as_str())
                            && self.seen_strings.insert(text.clone())
                    }
                    other => self.seen.insert(other.to_string()),
                };
                if new {
                    self.items.push(value);
                }
            }
            CollectKind::Bag => {
                if let Value::Object(map) = value {
                    for (key, v) in map {
                        if self.bag.len() >= self.max_size {
                            break;
                        }
                        self.bag.entry(key).or_insert(v);
                    }
                }
            }
        }
    }

    /// Adds a string-typed input value to a set, without building a JSON value unless it is new.
    fn push_set_string(&mut self, text: &str) {
        if self.items.len() < self.max_size && !self.seen_strings.contains(text) {
            self.seen_strings.insert(text.to_string());
            self.items.push(Value::String(text.to_string()));
        }
    }

    /// Whether a null input is collected: dynamic nulls go into lists, typed nulls only into
    /// `make_list_with_nulls`.
    fn keeps_null(&self, ty: KustoType) -> bool {
        self.kind == CollectKind::List && (self.keep_nulls || ty == KustoType::Dynamic)
    }

    fn result(&self) -> Value {
        match self.kind {
            CollectKind::Bag => Value::Object(self.bag.clone()),
            _ => Value::Array(self.items.clone()),
        }
    }
}

fn json_value_at(array: &dyn Array, row: usize, ty: KustoType) -> Value {
    if ty == KustoType::Dynamic {
        return string_value(array, row).map_or(Value::Null, crate::dynamic::parse_lenient);
    }
    json_at(array, row, ty)
}

impl Accumulator for Collect {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask = predicate_mask(values, self.predicate, &self.types)?;
        let (array, ty) = (&values[0], self.types[0]);
        for row in 0..array.len() {
            if !selected(&mask, row) {
                continue;
            }
            let value = json_value_at(array.as_ref(), row, ty);
            if !value.is_null() || self.keeps_null(ty) {
                self.push(value);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.result().to_string())))
    }
    fn size(&self) -> usize {
        size_of::<Self>()
            + self.items.len() * 48
            + (self.seen.len() + self.seen_strings.len()) * 48
            + self.bag.len() * 64
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.result().to_string().into_bytes(),
        ))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        for bytes in binary_states(states)? {
            let value: Value = serde_json::from_slice(bytes).map_err(|_| corrupt("make_set"))?;
            match (self.kind, value) {
                (CollectKind::Bag, bag) => self.push(bag),
                (_, Value::Array(items)) => {
                    for item in items {
                        self.push_item(item);
                    }
                }
                _ => return Err(corrupt("make_set")),
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- dcount

#[derive(Debug)]
struct DCount {
    counter: DistinctCounter,
    predicate: Option<usize>,
    types: Vec<KustoType>,
}

impl Accumulator for DCount {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask = predicate_mask(values, self.predicate, &self.types)?;
        self.counter
            .add_array(values[0].as_ref(), self.types[0], |row| {
                selected(&mask, row)
            });
        Ok(())
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.counter.count())))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.counter.to_bytes().len()
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.counter.to_bytes()))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        for bytes in binary_states(states)? {
            let other = DistinctCounter::from_bytes(bytes).ok_or_else(|| corrupt("dcount"))?;
            self.counter.merge(&other);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- arg_max / arg_min

/// `arg_max(by, value)` / `arg_min(by, value)`: the `value` of the row with the largest
/// (smallest) non-null `by`; the first such row wins ties. The planner passes the wanted
/// columns as one struct (`named_struct(...)`) and unpacks the result with `get_field`.
#[derive(Debug)]
struct ArgExtreme {
    maximum: bool,
    by_type: DataType,
    best_by: Option<ArrayRef>,
    best_value: Option<ArrayRef>,
    value_type: DataType,
}

impl ArgExtreme {
    fn consider(&mut self, by: &ArrayRef, value: &ArrayRef) -> DFResult<()> {
        let options = SortOptions {
            descending: false,
            nulls_first: true,
        };
        let compare = make_comparator(by.as_ref(), by.as_ref(), options)?;
        let mut best: Option<usize> = None;
        for row in 0..by.len() {
            if by.is_null(row) {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let order = compare(row, b);
                    if self.maximum {
                        order.is_gt()
                    } else {
                        order.is_lt()
                    }
                }
            };
            if better {
                best = Some(row);
            }
        }
        let Some(row) = best else { return Ok(()) };
        let replace = match &self.best_by {
            None => true,
            Some(current) => {
                let compare = make_comparator(by.as_ref(), current.as_ref(), options)?;
                let order = compare(row, 0);
                if self.maximum {
                    order.is_gt()
                } else {
                    order.is_lt()
                }
            }
        };
        if replace {
            self.best_by = Some(by.slice(row, 1));
            self.best_value = Some(value.slice(row, 1));
        }
        Ok(())
    }
}

impl Accumulator for ArgExtreme {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        self.consider(&values[0], &values[1])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        match &self.best_value {
            Some(value) => ScalarValue::try_from_array(value, 0),
            None => ScalarValue::try_from(&self.value_type),
        }
    }
    fn size(&self) -> usize {
        size_of::<Self>()
            + self
                .best_by
                .as_ref()
                .map_or(0, |a| a.get_array_memory_size())
            + self
                .best_value
                .as_ref()
                .map_or(0, |a| a.get_array_memory_size())
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let by = match &self.best_by {
            Some(by) => ScalarValue::try_from_array(by, 0)?,
            None => ScalarValue::try_from(&self.by_type)?,
        };
        Ok(vec![by, self.evaluate()?])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        self.consider(&states[0], &states[1])
    }
}

/// `minif(x, predicate)` / `maxif(x, predicate)`: the extreme non-null `x` among rows where the
/// predicate is true (null when there is none).
#[derive(Debug)]
struct ExtremeIf {
    inner: ArgExtreme,
    types: Vec<KustoType>,
}

impl Accumulator for ExtremeIf {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let mask = to_bool_array(&values[1], self.types[1])?;
        let selected: BooleanArray = mask.iter().map(|m| Some(m == Some(true))).collect();
        let kept = arrow::compute::filter(values[0].as_ref(), &selected)?;
        self.inner.consider(&kept, &kept)
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        self.inner.evaluate()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        self.inner.state()
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        self.inner.merge_batch(states)
    }
}

// ---------------------------------------------------------------- percentile

/// `percentile(x, p)`: the nearest-rank percentile, exact (every value is kept). Kusto uses a
/// T-Digest, whose answer for small inputs is the nearest-rank value; see docs/engine-types.md.
#[derive(Debug)]
struct Percentile {
    percent: f64,
    ty: KustoType,
    integers: Vec<i64>,
    reals: Vec<f64>,
}

impl Percentile {
    fn integral(&self) -> bool {
        !matches!(
            self.ty,
            KustoType::Real | KustoType::Decimal | KustoType::Dynamic
        )
    }

    fn add(&mut self, array: &ArrayRef) -> DFResult<()> {
        if self.integral() {
            let longs = match self.ty {
                KustoType::DateTime | KustoType::TimeSpan => {
                    arrow::compute::cast(array, &DataType::Int64)?
                        .as_primitive::<arrow::datatypes::Int64Type>()
                        .clone()
                }
                ty => to_long_array(array, ty)?,
            };
            self.integers.extend(longs.iter().flatten());
        } else {
            let reals = to_real_array(array, self.ty)?;
            self.reals
                .extend(reals.iter().flatten().filter(|v| !v.is_nan()));
        }
        Ok(())
    }

    fn rank(&self, count: usize) -> Option<usize> {
        if count == 0 {
            return None;
        }
        let rank = (self.percent / 100.0 * count as f64).ceil() as usize;
        Some(rank.clamp(1, count) - 1)
    }
}

impl Accumulator for Percentile {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        self.add(&values[0])
    }
    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        if self.integral() {
            self.integers.sort_unstable();
            let value = self.rank(self.integers.len()).map(|i| self.integers[i]);
            return Ok(match self.ty {
                KustoType::DateTime => ScalarValue::TimestampNanosecond(value, Some("UTC".into())),
                KustoType::TimeSpan => ScalarValue::DurationNanosecond(value),
                _ => ScalarValue::Int64(value),
            });
        }
        self.reals.sort_unstable_by(f64::total_cmp);
        Ok(ScalarValue::Float64(
            self.rank(self.reals.len()).map(|i| self.reals[i]),
        ))
    }
    fn size(&self) -> usize {
        size_of::<Self>() + self.integers.capacity() * 8 + self.reals.capacity() * 8
    }
    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let mut bytes = Vec::with_capacity(8 * (self.integers.len() + self.reals.len()));
        for v in &self.integers {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.reals {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let integral = self.integral();
        for bytes in binary_states(states)? {
            for chunk in bytes.chunks_exact(8) {
                let raw: [u8; 8] = chunk.try_into().map_err(|_| corrupt("percentile"))?;
                if integral {
                    self.integers.push(i64::from_le_bytes(raw));
                } else {
                    self.reals.push(f64::from_le_bytes(raw));
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- definitions

fn collect(name: &'static str, kind: CollectKind, with_predicate: bool) -> KustoAggregate {
    let size_index = if with_predicate { 2 } else { 1 };
    KustoAggregate::new(
        name,
        size_index,
        Some(size_index + 1),
        returns(KustoType::Dynamic),
        Arc::new(move |call: &AggregateCall| {
            let max_size = call.constant_usize(size_index, "the maximum size", DEFAULT_MAX_SIZE)?;
            Ok(Box::new(new_collect(call, kind, max_size, with_predicate)) as Box<dyn Accumulator>)
        }),
    )
    .with_groups_accumulator(Arc::new(move |call: &AggregateCall| {
        let max_size = call.constant_usize(size_index, "the maximum size", DEFAULT_MAX_SIZE)?;
        let template = new_collect(call, kind, max_size, with_predicate);
        Ok(Box::new(CollectGroups {
            groups: Vec::new(),
            template,
        }) as Box<dyn GroupsAccumulator>)
    }))
}

fn new_collect(
    call: &AggregateCall,
    kind: CollectKind,
    max_size: usize,
    with_predicate: bool,
) -> Collect {
    Collect {
        kind,
        keep_nulls: call.name == "make_list_with_nulls",
        max_size,
        predicate: with_predicate.then_some(1),
        types: call.types.clone(),
        items: Vec::new(),
        seen: HashSet::new(),
        seen_strings: HashSet::default(),
        bag: Map::new(),
    }
}

fn dcount_precision(call: &AggregateCall, accuracy_index: usize) -> DFResult<u8> {
    let level = call.constant_usize(accuracy_index, "the accuracy level", 1)?;
    accuracy_precision(level).ok_or_else(|| {
        EngineError::InvalidArgument {
            name: call.name.clone(),
            message: format!("accuracy level must be 0 to 4, got {level}"),
        }
        .into()
    })
}

fn dcount(name: &'static str, with_predicate: bool) -> KustoAggregate {
    let accuracy_index = if with_predicate { 2 } else { 1 };
    KustoAggregate::new(
        name,
        accuracy_index,
        Some(accuracy_index + 1),
        returns(KustoType::Long),
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(DCount {
                counter: DistinctCounter::new(dcount_precision(call, accuracy_index)?),
                predicate: with_predicate.then_some(1),
                types: call.types.clone(),
            }) as Box<dyn Accumulator>)
        }),
    )
    .with_groups_accumulator(Arc::new(move |call: &AggregateCall| {
        Ok(Box::new(DCountGroups {
            counters: Vec::new(),
            precision: dcount_precision(call, accuracy_index)?,
            predicate: with_predicate.then_some(1),
            types: call.types.clone(),
        }) as Box<dyn GroupsAccumulator>)
    }))
}

fn sum_avg(name: &'static str, average: bool, with_predicate: bool) -> KustoAggregate {
    let arity = if with_predicate { 2 } else { 1 };
    KustoAggregate::new(
        name,
        arity,
        Some(arity),
        Arc::new(move |name, args| {
            let kind = number_kind(name, args.first().copied().unwrap_or(KustoType::Long))?;
            Ok(match (kind, average) {
                (NumberKind::TimeSpan, _) => KustoType::TimeSpan,
                (_, true) | (NumberKind::Real, false) => KustoType::Real,
                (NumberKind::Integer, false) => KustoType::Long,
            })
        }),
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(new_sum_avg(call, average, with_predicate)?) as Box<dyn Accumulator>)
        }),
    )
    .with_groups_accumulator(Arc::new(move |call: &AggregateCall| {
        Ok(Box::new(SumAvgGroups {
            template: new_sum_avg(call, average, with_predicate)?,
            integer_sums: Vec::new(),
            real_sums: Vec::new(),
            counts: Vec::new(),
        }) as Box<dyn GroupsAccumulator>)
    }))
}

fn new_sum_avg(call: &AggregateCall, average: bool, with_predicate: bool) -> DFResult<SumAvg> {
    Ok(SumAvg {
        kind: number_kind(&call.name, call.types[0])?,
        average,
        predicate: with_predicate.then_some(1),
        types: call.types.clone(),
        integer_sum: 0,
        real_sum: 0.0,
        count: 0,
    })
}

fn same_field_as(index: usize, name: &'static str) -> super::FieldRule {
    Arc::new(move |fields: &[FieldRef]| {
        Ok(fields.get(index).map_or_else(
            || Field::new(name, DataType::Null, true),
            |f| f.as_ref().clone().with_name(name).with_nullable(true),
        ))
    })
}

fn arg_extreme(name: &'static str, maximum: bool) -> KustoAggregate {
    KustoAggregate::new(
        name,
        2,
        Some(2),
        Arc::new(|_, args| Ok(args.get(1).copied().unwrap_or(KustoType::Dynamic))),
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(ArgExtreme {
                maximum,
                by_type: call.arrow_types.first().cloned().unwrap_or(DataType::Null),
                best_by: None,
                best_value: None,
                value_type: call.return_field.data_type().clone(),
            }) as Box<dyn Accumulator>)
        }),
    )
    .with_field_rule(same_field_as(1, name))
    .with_state_rule(Arc::new(|inputs: &[FieldRef]| {
        inputs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_name(format!("arg[{i}]"))
                        .with_nullable(true),
                )
            })
            .collect()
    }))
}

fn extreme_if(name: &'static str, maximum: bool) -> KustoAggregate {
    KustoAggregate::new(
        name,
        2,
        Some(2),
        Arc::new(|_, args| Ok(args.first().copied().unwrap_or(KustoType::Dynamic))),
        Arc::new(move |call: &AggregateCall| {
            Ok(Box::new(ExtremeIf {
                inner: ArgExtreme {
                    maximum,
                    by_type: call.arrow_types.first().cloned().unwrap_or(DataType::Null),
                    best_by: None,
                    best_value: None,
                    value_type: call.return_field.data_type().clone(),
                },
                types: call.types.clone(),
            }) as Box<dyn Accumulator>)
        }),
    )
    .with_field_rule(same_field_as(0, name))
    .with_state_rule(Arc::new(|inputs: &[FieldRef]| {
        // The state is (best, best): the layout arg_max uses with `by` and `value` equal.
        let value = inputs
            .first()
            .map(|f| f.as_ref().clone().with_nullable(true));
        value
            .into_iter()
            .flat_map(|f| {
                [
                    f.clone().with_name("by[state]"),
                    f.with_name("value[state]"),
                ]
            })
            .map(Arc::new)
            .collect()
    }))
}

fn percentile(name: &'static str) -> KustoAggregate {
    KustoAggregate::new(
        name,
        2,
        Some(2),
        Arc::new(|name, args| match args.first().copied() {
            Some(KustoType::Int | KustoType::Long | KustoType::Bool) => Ok(KustoType::Long),
            Some(ty @ (KustoType::DateTime | KustoType::TimeSpan)) => Ok(ty),
            Some(ty) if is_numeric(ty) || ty == KustoType::Dynamic => Ok(KustoType::Real),
            other => Err(EngineError::ArgumentType {
                name: name.to_string(),
                position: 1,
                expected: "a number, datetime or timespan".to_string(),
                got: other.map_or_else(|| "nothing".to_string(), |t| t.to_string()),
            }),
        }),
        Arc::new(|call: &AggregateCall| {
            let percent = call.constant_f64(1, "the percentile")?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(EngineError::InvalidArgument {
                    name: call.name.clone(),
                    message: format!("the percentile must be between 0 and 100, got {percent}"),
                }
                .into());
            }
            Ok(Box::new(Percentile {
                percent,
                ty: call.types[0],
                integers: Vec::new(),
                reals: Vec::new(),
            }) as Box<dyn Accumulator>)
        }),
    )
}

fn take_any(name: &'static str) -> KustoAggregate {
    KustoAggregate::new(
        name,
        1,
        Some(1),
        Arc::new(|_, args| Ok(args.first().copied().unwrap_or(KustoType::Dynamic))),
        Arc::new(|call: &AggregateCall| {
            Ok(Box::new(TakeAny {
                value: None,
                data_type: call.return_field.data_type().clone(),
            }) as Box<dyn Accumulator>)
        }),
    )
    .with_field_rule(same_field_as(0, name))
    .with_state_rule(Arc::new(|inputs: &[FieldRef]| {
        inputs
            .iter()
            .take(1)
            .map(|f| {
                Arc::new(
                    f.as_ref()
                        .clone()
                        .with_name("take_any[state]")
                        .with_nullable(true),
                )
            })
            .collect()
    }))
}

pub(super) fn functions() -> Vec<KustoAggregate> {
    vec![
        KustoAggregate::new(
            "countif",
            1,
            Some(1),
            returns(KustoType::Long),
            Arc::new(|call: &AggregateCall| {
                Ok(Box::new(CountIf {
                    count: 0,
                    types: call.types.clone(),
                }) as Box<dyn Accumulator>)
            }),
        )
        .with_groups_accumulator(Arc::new(|call: &AggregateCall| {
            Ok(Box::new(CountIfGroups {
                counts: Vec::new(),
                types: call.types.clone(),
            }) as Box<dyn GroupsAccumulator>)
        })),
        sum_avg("sum", false, false),
        sum_avg("sumif", false, true),
        sum_avg("avg", true, false),
        sum_avg("avgif", true, true),
        take_any("take_any"),
        collect("make_set", CollectKind::Set, false),
        collect("make_set_if", CollectKind::Set, true),
        collect("make_list", CollectKind::List, false),
        collect("make_list_if", CollectKind::List, true),
        collect("make_list_with_nulls", CollectKind::List, false),
        collect("make_bag", CollectKind::Bag, false),
        collect("make_bag_if", CollectKind::Bag, true),
        dcount("dcount", false),
        dcount("dcountif", true),
        arg_extreme("arg_max", true),
        arg_extreme("arg_min", false),
        extreme_if("maxif", true),
        extreme_if("minif", false),
        percentile("percentile"),
    ]
}

// ---------------------------------------------------------------- groups accumulators

/// Whether row `row` passes DataFusion's `FILTER` clause, if any.
fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

fn resize_with<T>(states: &mut Vec<T>, total: usize, make: impl Fn() -> T) {
    if states.len() < total {
        states.resize_with(total, make);
    }
}

fn binary_state_column(states: impl Iterator<Item = Vec<u8>>) -> ArrayRef {
    Arc::new(states.map(Some).collect::<arrow::array::BinaryArray>())
}

/// The non-null partial states a groups accumulator's `merge_batch` receives, each with its
/// group.
fn group_states<'a>(
    values: &'a [ArrayRef],
    group_indices: &'a [usize],
    name: &str,
) -> DFResult<impl Iterator<Item = (usize, &'a [u8])> + 'a> {
    let states = values
        .first()
        .and_then(|v| v.as_binary_opt::<i32>())
        .ok_or_else(|| corrupt(name))?;
    Ok(group_indices
        .iter()
        .enumerate()
        .filter(|(row, _)| states.is_valid(*row))
        .map(|(row, &group)| (group, states.value(row))))
}

/// `convert_to_state` of a groups accumulator: every row is its own group of `single`.
fn rows_as_states(
    mut single: impl GroupsAccumulator,
    values: &[ArrayRef],
    opt_filter: Option<&BooleanArray>,
) -> DFResult<Vec<ArrayRef>> {
    let rows = values.first().map_or(0, |v| v.len());
    let indices: Vec<usize> = (0..rows).collect();
    single.update_batch(values, &indices, opt_filter, rows)?;
    single.state(EmitTo::All)
}

/// `countif` for all groups at once.
struct CountIfGroups {
    counts: Vec<i64>,
    types: Vec<KustoType>,
}

impl GroupsAccumulator for CountIfGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DFResult<()> {
        resize_with(&mut self.counts, total_num_groups, || 0);
        let mask = to_bool_array(&values[0], self.types[0])?;
        for (row, &group) in group_indices.iter().enumerate() {
            if mask.is_valid(row) && mask.value(row) && passes(opt_filter, row) {
                self.counts[group] += 1;
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> DFResult<ArrayRef> {
        Ok(Arc::new(arrow::array::Int64Array::from(
            emit_to.take_needed(&mut self.counts),
        )))
    }
    fn state(&mut self, emit_to: EmitTo) -> DFResult<Vec<ArrayRef>> {
        let counts = emit_to.take_needed(&mut self.counts);
        Ok(vec![binary_state_column(
            counts.into_iter().map(|c| c.to_le_bytes().to_vec()),
        )])
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DFResult<()> {
        resize_with(&mut self.counts, total_num_groups, || 0);
        for (group, bytes) in group_states(values, group_indices, "countif")? {
            let raw: [u8; 8] = bytes.try_into().map_err(|_| corrupt("countif"))?;
            self.counts[group] += i64::from_le_bytes(raw);
        }
        Ok(())
    }
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DFResult<Vec<ArrayRef>> {
        // Each row is its own group.
        let single = CountIfGroups {
            counts: Vec::new(),
            types: self.types.clone(),
        };
        rows_as_states(single, values, opt_filter)
    }
    fn size(&self) -> usize {
        self.counts.capacity() * 8
    }
}

/// `sum`/`sumif`/`avg`/`avgif` for all groups at once.
struct SumAvgGroups {
    template: SumAvg,
    integer_sums: Vec<i64>,
    real_sums: Vec<f64>,
    counts: Vec<i64>,
}

impl SumAvgGroups {
    fn grow(&mut self, total: usize) {
        resize_with(&mut self.integer_sums, total, || 0);
        resize_with(&mut self.real_sums, total, || 0.0);
        resize_with(&mut self.counts, total, || 0);
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<SumAvg> {
        let integers = emit_to.take_needed(&mut self.integer_sums);
        let reals = emit_to.take_needed(&mut self.real_sums);
        let counts = emit_to.take_needed(&mut self.counts);
        integers
            .into_iter()
            .zip(reals)
            .zip(counts)
            .map(|((integer_sum, real_sum), count)| SumAvg {
                types: Vec::new(),
                integer_sum,
                real_sum,
                count,
                ..self.template.same_kind()
            })
            .collect()
    }
}

impl GroupsAccumulator for SumAvgGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DFResult<()> {
        self.grow(total_num_groups);
        let mask = predicate_mask(values, self.template.predicate, &self.template.types)?;
        let (array, ty) = (&values[0], self.template.types[0]);
        match self.template.kind {
            NumberKind::Real => {
                let reals = to_real_array(array, ty)?;
                for (row, &group) in group_indices.iter().enumerate() {
                    if reals.is_valid(row) && selected(&mask, row) && passes(opt_filter, row) {
                        self.real_sums[group] += reals.value(row);
                        self.counts[group] += 1;
                    }
                }
            }
            NumberKind::Integer | NumberKind::TimeSpan => {
                let longs = if self.template.kind == NumberKind::TimeSpan {
                    arrow::compute::cast(array, &DataType::Int64)?
                        .as_primitive::<arrow::datatypes::Int64Type>()
                        .clone()
                } else {
                    to_long_array(array, ty)?
                };
                for (row, &group) in group_indices.iter().enumerate() {
                    if longs.is_valid(row) && selected(&mask, row) && passes(opt_filter, row) {
                        self.integer_sums[group] =
                            self.integer_sums[group].wrapping_add(longs.value(row));
                        self.counts[group] += 1;
                    }
                }
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> DFResult<ArrayRef> {
        let values: Vec<ScalarValue> = self
            .take(emit_to)
            .iter_mut()
            .map(Accumulator::evaluate)
            .collect::<DFResult<_>>()?;
        if values.is_empty() {
            return Ok(arrow::array::new_empty_array(&self.template.result_type()));
        }
        ScalarValue::iter_to_array(values)
    }
    fn state(&mut self, emit_to: EmitTo) -> DFResult<Vec<ArrayRef>> {
        let mut states = Vec::new();
        for mut group in self.take(emit_to) {
            if let Some(ScalarValue::Binary(Some(bytes))) = group.state()?.pop() {
                states.push(bytes);
            }
        }
        Ok(vec![binary_state_column(states.into_iter())])
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DFResult<()> {
        self.grow(total_num_groups);
        for (group, bytes) in group_states(values, group_indices, "sum")? {
            let word = |i: usize| -> DFResult<[u8; 8]> {
                bytes
                    .get(i * 8..i * 8 + 8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| corrupt("sum"))
            };
            self.integer_sums[group] =
                self.integer_sums[group].wrapping_add(i64::from_le_bytes(word(0)?));
            self.real_sums[group] += f64::from_le_bytes(word(1)?);
            self.counts[group] += i64::from_le_bytes(word(2)?);
        }
        Ok(())
    }
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DFResult<Vec<ArrayRef>> {
        // Each row is its own group.
        let single = SumAvgGroups {
            template: SumAvg {
                types: self.template.types.clone(),
                ..self.template.same_kind()
            },
            integer_sums: Vec::new(),
            real_sums: Vec::new(),
            counts: Vec::new(),
        };
        rows_as_states(single, values, opt_filter)
    }
    fn size(&self) -> usize {
        self.counts.capacity() * 24 + size_of::<Self>()
    }
}

/// `dcount`/`dcountif` for all groups at once: values are hashed once per batch.
struct DCountGroups {
    counters: Vec<DistinctCounter>,
    precision: u8,
    predicate: Option<usize>,
    types: Vec<KustoType>,
}

impl GroupsAccumulator for DCountGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DFResult<()> {
        let precision = self.precision;
        resize_with(&mut self.counters, total_num_groups, || {
            DistinctCounter::new(precision)
        });
        let mask = predicate_mask(values, self.predicate, &self.types)?;
        let hashes = super::dcount::hash_values(values[0].as_ref(), self.types[0]);
        for (row, (&group, hash)) in group_indices.iter().zip(hashes).enumerate() {
            if let Some(hash) = hash
                && selected(&mask, row)
                && passes(opt_filter, row)
            {
                self.counters[group].add_hash(hash);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> DFResult<ArrayRef> {
        let counters = emit_to.take_needed(&mut self.counters);
        Ok(Arc::new(
            counters
                .iter()
                .map(|c| Some(c.count()))
                .collect::<arrow::array::Int64Array>(),
        ))
    }
    fn state(&mut self, emit_to: EmitTo) -> DFResult<Vec<ArrayRef>> {
        let counters = emit_to.take_needed(&mut self.counters);
        Ok(vec![binary_state_column(
            counters.iter().map(DistinctCounter::to_bytes),
        )])
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DFResult<()> {
        let precision = self.precision;
        resize_with(&mut self.counters, total_num_groups, || {
            DistinctCounter::new(precision)
        });
        for (group, bytes) in group_states(values, group_indices, "dcount")? {
            let other = DistinctCounter::from_bytes(bytes).ok_or_else(|| corrupt("dcount"))?;
            self.counters[group].merge(&other);
        }
        Ok(())
    }
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DFResult<Vec<ArrayRef>> {
        // Each row is its own group.
        let single = DCountGroups {
            counters: Vec::new(),
            precision: self.precision,
            predicate: self.predicate,
            types: self.types.clone(),
        };
        rows_as_states(single, values, opt_filter)
    }
    fn size(&self) -> usize {
        self.counters.iter().map(|c| c.memory_size()).sum::<usize>() + size_of::<Self>()
    }
}

/// `make_set`/`make_list`/`make_bag` (and `_if`) for all groups at once.
struct CollectGroups {
    groups: Vec<Collect>,
    template: Collect,
}

impl CollectGroups {
    fn fresh(&self) -> Collect {
        Collect {
            kind: self.template.kind,
            keep_nulls: self.template.keep_nulls,
            max_size: self.template.max_size,
            predicate: self.template.predicate,
            types: Vec::new(),
            items: Vec::new(),
            seen: HashSet::new(),
            seen_strings: HashSet::default(),
            bag: Map::new(),
        }
    }

    fn grow(&mut self, total: usize) {
        while self.groups.len() < total {
            let fresh = self.fresh();
            self.groups.push(fresh);
        }
    }
}

impl GroupsAccumulator for CollectGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DFResult<()> {
        self.grow(total_num_groups);
        let types = &self.template.types;
        let mask = predicate_mask(values, self.template.predicate, types)?;
        let (array, ty) = (&values[0], types[0]);
        for (row, &group) in group_indices.iter().enumerate() {
            if !selected(&mask, row) || !passes(opt_filter, row) {
                continue;
            }
            let target = &mut self.groups[group];
            // A full list or set ignores further rows without converting them.
            if target.kind != CollectKind::Bag && target.items.len() >= target.max_size {
                continue;
            }
            // Strings (not dynamic text, which may hold an array to flatten) go straight to the
            // set; nulls and other types take the general path below.
            if target.kind == CollectKind::Set
                && ty != KustoType::Dynamic
                && let Some(text) = string_value(array.as_ref(), row)
            {
                target.push_set_string(text);
                continue;
            }
            let value = json_value_at(array.as_ref(), row, ty);
            if !value.is_null() || target.keeps_null(ty) {
                target.push(value);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> DFResult<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        Ok(Arc::new(
            groups
                .iter()
                .map(|g| Some(g.result().to_string()))
                .collect::<arrow::array::StringArray>(),
        ))
    }
    fn state(&mut self, emit_to: EmitTo) -> DFResult<Vec<ArrayRef>> {
        let groups = emit_to.take_needed(&mut self.groups);
        Ok(vec![binary_state_column(
            groups.iter().map(|g| g.result().to_string().into_bytes()),
        )])
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DFResult<()> {
        self.grow(total_num_groups);
        for (group, bytes) in group_states(values, group_indices, "make_set")? {
            let value: Value = serde_json::from_slice(bytes).map_err(|_| corrupt("make_set"))?;
            let target = &mut self.groups[group];
            match (target.kind, value) {
                (CollectKind::Bag, bag) => target.push(bag),
                (_, Value::Array(items)) => {
                    items.into_iter().for_each(|item| target.push_item(item))
                }
                _ => return Err(corrupt("make_set")),
            }
        }
        Ok(())
    }
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DFResult<Vec<ArrayRef>> {
        // Each row is its own group.
        let single = CollectGroups {
            groups: Vec::new(),
            template: Collect {
                types: self.template.types.clone(),
                ..self.fresh()
            },
        };
        rows_as_states(single, values, opt_filter)
    }
    fn size(&self) -> usize {
        self.groups.iter().map(Accumulator::size).sum::<usize>() + size_of::<Self>()
    }
}

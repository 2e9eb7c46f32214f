//! The bridge to the function library (`crate::scalar`): name lookup, Kusto return types and
//! call expressions, plus dynamic member access with a constant path (`x.a[0]`), which the
//! planner builds from the AST.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result as DFResult;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;
use goshawk_types::KustoType;

use crate::dynamic::{PathStep, get_path, parse_lenient, parse_stored, to_text};
use crate::scalar::{KustoScalar, all_scalars, kusto_type_of};

/// Names Kusto accepts for the same function.
const ALIASES: &[(&str, &str)] = &[
    ("iif", "iff"),
    ("todouble", "toreal"),
    ("toboolean", "tobool"),
    ("todynamic", "parse_json"),
    ("toobject", "parse_json"),
    ("int", "toint"),
    ("strlen", "strlen"),
    ("make_string", "strcat"),
    // Deprecated spellings that Sentinel content still uses.
    ("parsejson", "parse_json"),
    ("arraylength", "array_length"),
    ("notempty", "isnotempty"),
    ("array_strcat", "strcat_array"),
    ("base64_decodestring", "base64_decode_tostring"),
    ("base64_encodestring", "base64_encode_tostring"),
];

fn library() -> &'static HashMap<String, Arc<ScalarUDF>> {
    static LIBRARY: OnceLock<HashMap<String, Arc<ScalarUDF>>> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let mut map: HashMap<String, Arc<ScalarUDF>> = HashMap::new();
        for function in all_scalars() {
            let udf = function.into_udf();
            map.insert(udf.name().to_string(), Arc::new(udf));
        }
        map
    })
}

/// The canonical library name for `name`.
pub fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, target)| target)
}

pub fn lookup(name: &str) -> Option<Arc<ScalarUDF>> {
    library().get(canonical(name)).cloned().or_else(|| {
        // The registry knows the library's deprecated aliases.
        crate::registry::lookup(name)
            .filter(|entry| !entry.needs_now())
            .and_then(|entry| entry.scalar_udf())
            .map(|udf| Arc::new(udf.clone()))
    })
}

/// The library's functions, each under its own name.
pub fn library_udfs() -> Vec<Arc<ScalarUDF>> {
    library().values().cloned().collect()
}

pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = library().keys().cloned().collect();
    names.extend(ALIASES.iter().map(|(alias, _)| alias.to_string()));
    names
}

/// The Kusto result type of calling `udf` with arguments of these types (argument count and
/// type errors come from the library's rules).
pub fn return_type(udf: &ScalarUDF, args: &[KustoType]) -> Result<KustoType, String> {
    if let Some(scalar) = udf.inner().downcast_ref::<KustoScalar>() {
        return scalar.kusto_return_type(args).map_err(|e| e.to_string());
    }
    if udf.inner().downcast_ref::<DynamicPath>().is_some() {
        if args.len() != 1 {
            return Err(format!(
                "{} expects 1 argument, got {}",
                udf.name(),
                args.len()
            ));
        }
        return Ok(KustoType::Dynamic);
    }
    Err(format!("no Kusto type rule for {}", udf.name()))
}

pub fn call(udf: Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(udf, args))
}

/// `value.a[0]["b"]`: follows a constant path into a dynamic value.
pub fn dynamic_path(value: Expr, path: Vec<PathStep>) -> Expr {
    call(
        Arc::new(ScalarUDF::new_from_impl(DynamicPath::new(path))),
        vec![value],
    )
}

fn dynamic_field(name: &str) -> FieldRef {
    Arc::new(KustoType::Dynamic.field(name))
}

/// Member and index access on dynamic values; a missing member is a dynamic null. Applied to a
/// string, the text is parsed as JSON first (Kusto allows `tostring(s.a)` on JSON strings only
/// through `parse_json`, but goshawk reads some dynamic columns back as plain strings).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DynamicPath {
    path: Vec<PathStep>,
    signature: Signature,
}

impl DynamicPath {
    fn new(path: Vec<PathStep>) -> DynamicPath {
        DynamicPath {
            path,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

fn text_arg(args: &ScalarFunctionArgs) -> DFResult<(StringArray, bool)> {
    let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
    let rows = if scalar { 1 } else { args.number_rows };
    let array = args.args[0].to_array(rows)?;
    let ty = args
        .arg_fields
        .first()
        .map_or(KustoType::Dynamic, |f| kusto_type_of(f));
    Ok((crate::format::to_kusto_strings(&array, ty), scalar))
}

fn finish(array: ArrayRef, scalar: bool) -> DFResult<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

impl ScalarUDFImpl for DynamicPath {
    fn name(&self) -> &str {
        "dynamic_path"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> DFResult<FieldRef> {
        Ok(dynamic_field("dynamic_path"))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let null_input = args.args[0].data_type() == DataType::Null;
        let (texts, scalar) = text_arg(&args)?;
        let mut builder = StringBuilder::new();
        for row in 0..texts.len() {
            if null_input || texts.is_null(row) || texts.value(row).is_empty() {
                builder.append_null();
                continue;
            }
            let text = texts.value(row);
            // Canonical text (what parse_json produces) is sliced, not parsed into a tree.
            if let Some(found) = crate::dynamic::find_canonical(text, &self.path) {
                match found {
                    Some(raw) => builder.append_value(raw),
                    None => builder.append_null(),
                }
                continue;
            }
            let value = parse_stored(text).unwrap_or_else(|| parse_lenient(text));
            match get_path(&value, &self.path) {
                Some(found) => builder.append_value(to_text(found)),
                None => builder.append_null(),
            }
        }
        finish(Arc::new(builder.finish()), scalar)
    }
}

/// What `mv_items` produces for each input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpandOutput {
    /// The elements, as dynamic (compact JSON) text.
    Values,
    /// The 0-based element positions (`with_itemindex`).
    Indexes,
}

/// The list `mv-expand` unnests for one dynamic value: an array's elements, a property bag's
/// properties (`{"k": v}` bags, or `["k", v]` pairs with `bagexpansion=array`), a scalar
/// itself, and a null as one null; at most `limit` of them.
pub fn expand_items(value: Expr, bag_as_array: bool, limit: usize, output: ExpandOutput) -> Expr {
    let udf = MvItems {
        bag_as_array,
        limit,
        output,
        signature: Signature::any(1, Volatility::Immutable),
    };
    call(Arc::new(ScalarUDF::new_from_impl(udf)), vec![value])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MvItems {
    bag_as_array: bool,
    limit: usize,
    output: ExpandOutput,
    signature: Signature,
}

impl MvItems {
    fn element_type(&self) -> DataType {
        match self.output {
            ExpandOutput::Values => DataType::Utf8,
            ExpandOutput::Indexes => DataType::Int64,
        }
    }
}

impl ScalarUDFImpl for MvItems {
    fn name(&self) -> &str {
        match self.output {
            ExpandOutput::Values => "mv_expand_items",
            ExpandOutput::Indexes => "mv_expand_indexes",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::List(Arc::new(arrow::datatypes::Field::new(
            "item",
            self.element_type(),
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        use arrow::array::{Int64Builder, ListBuilder};
        use serde_json::Value;
        let null_input = args.args[0].data_type() == DataType::Null;
        let (texts, scalar) = text_arg(&args)?;
        let items_of = |row: usize| -> Vec<Option<Value>> {
            // Kusto's tostring() of a dynamic null is "", and no dynamic value is stored as "".
            if null_input || texts.is_null(row) || texts.value(row).is_empty() {
                return vec![None];
            }
            let text = texts.value(row);
            let value = parse_stored(text).unwrap_or_else(|| parse_lenient(text));
            let items: Vec<Option<Value>> = match value {
                Value::Array(items) => items.into_iter().map(Some).collect(),
                Value::Object(map) => map
                    .into_iter()
                    .map(|(k, v)| {
                        Some(if self.bag_as_array {
                            Value::Array(vec![Value::String(k), v])
                        } else {
                            Value::Object(serde_json::Map::from_iter([(k, v)]))
                        })
                    })
                    .collect(),
                Value::Null => vec![None],
                other => vec![Some(other)],
            };
            items.into_iter().take(self.limit).collect()
        };
        let array: ArrayRef = match self.output {
            ExpandOutput::Values => {
                let mut builder = ListBuilder::new(StringBuilder::new());
                for row in 0..texts.len() {
                    for item in items_of(row) {
                        match item {
                            Some(v) if !v.is_null() => builder.values().append_value(to_text(&v)),
                            _ => builder.values().append_null(),
                        }
                    }
                    builder.append(true);
                }
                Arc::new(builder.finish())
            }
            ExpandOutput::Indexes => {
                let mut builder = ListBuilder::new(Int64Builder::new());
                for row in 0..texts.len() {
                    let count = items_of(row).len();
                    for index in 0..count {
                        builder
                            .values()
                            .append_value(i64::try_from(index).unwrap_or(i64::MAX));
                    }
                    builder.append(true);
                }
                Arc::new(builder.finish())
            }
        };
        finish(array, scalar)
    }
}

/// Marks a value with its Kusto type. DataFusion drops alias metadata when it merges
/// projections, so values that do not come from a scan or a library function (unnested
/// items) carry their type through this identity function instead.
pub fn tag(value: Expr, ty: KustoType) -> Expr {
    let udf = TagType {
        ty,
        signature: Signature::any(1, Volatility::Immutable),
    };
    call(Arc::new(ScalarUDF::new_from_impl(udf)), vec![value])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TagType {
    ty: KustoType,
    signature: Signature,
}

impl ScalarUDFImpl for TagType {
    fn name(&self) -> &str {
        "kusto_type"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(self.ty.arrow_type())
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> DFResult<FieldRef> {
        Ok(Arc::new(self.ty.field(self.ty.name())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let wanted = self.ty.arrow_type();
        match &args.args[0] {
            ColumnarValue::Array(array) if array.data_type() != &wanted => {
                Ok(ColumnarValue::Array(arrow::compute::cast(array, &wanted)?))
            }
            ColumnarValue::Scalar(value) if value.data_type() != wanted => {
                Ok(ColumnarValue::Scalar(value.cast_to(&wanted)?))
            }
            other => Ok(other.clone()),
        }
    }
}

/// A predicate that fails when evaluated: for sources goshawk cannot read offline
/// (`externaldata` over http). Volatile, so the optimizer does not fold it at plan time and a
/// query that only plans (lint, explain) succeeds.
pub fn unavailable(message: String) -> Expr {
    call(
        Arc::new(ScalarUDF::new_from_impl(Unavailable {
            message,
            signature: Signature::exact(vec![], Volatility::Volatile),
        })),
        vec![],
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Unavailable {
    message: String,
    signature: Signature,
}

impl ScalarUDFImpl for Unavailable {
    fn name(&self) -> &str {
        "unavailable"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        Err(datafusion::error::DataFusionError::Execution(
            self.message.clone(),
        ))
    }
}

/// The parameters of a function the planner builds for one call (a dynamic path, an
/// `mv-expand` item list, a type tag, an unavailable source) as JSON, or `None` for any other
/// function. A plan sent to another process (a cluster's scheduler and executors) carries
/// these, because such functions are not in any registry that a name could find.
pub fn planner_udf_to_json(udf: &ScalarUDF) -> Option<serde_json::Value> {
    use serde_json::json;
    let inner = udf.inner();
    if let Some(path) = inner.downcast_ref::<DynamicPath>() {
        let steps: Vec<serde_json::Value> = path
            .path
            .iter()
            .map(|step| match step {
                PathStep::Key(key) => json!({ "key": key }),
                PathStep::Index(index) => json!({ "index": index }),
            })
            .collect();
        return Some(json!({ "dynamic_path": steps }));
    }
    if let Some(items) = inner.downcast_ref::<MvItems>() {
        return Some(json!({ "mv_items": {
            "bag_as_array": items.bag_as_array,
            "limit": items.limit,
            "indexes": items.output == ExpandOutput::Indexes,
        }}));
    }
    if let Some(tag) = inner.downcast_ref::<TagType>() {
        return Some(json!({ "kusto_type": tag.ty.name() }));
    }
    if let Some(unavailable) = inner.downcast_ref::<Unavailable>() {
        return Some(json!({ "unavailable": unavailable.message }));
    }
    None
}

/// Rebuilds a function from [`planner_udf_to_json`]'s form.
pub fn planner_udf_from_json(value: &serde_json::Value) -> Result<Arc<ScalarUDF>, String> {
    let bad = || format!("not a planner function: {value}");
    let object = value.as_object().ok_or_else(bad)?;
    let (kind, body) = object.iter().next().ok_or_else(bad)?;
    let udf = match kind.as_str() {
        "dynamic_path" => {
            let steps = body.as_array().ok_or_else(bad)?;
            let mut path = Vec::with_capacity(steps.len());
            for step in steps {
                if let Some(key) = step.get("key").and_then(|k| k.as_str()) {
                    path.push(PathStep::Key(key.to_string()));
                } else if let Some(index) = step.get("index").and_then(|i| i.as_i64()) {
                    path.push(PathStep::Index(index));
                } else {
                    return Err(bad());
                }
            }
            ScalarUDF::new_from_impl(DynamicPath::new(path))
        }
        "mv_items" => {
            let flag = |name: &str| body.get(name).and_then(|v| v.as_bool()).ok_or_else(bad);
            let limit = body
                .get("limit")
                .and_then(|v| v.as_u64())
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(bad)?;
            ScalarUDF::new_from_impl(MvItems {
                bag_as_array: flag("bag_as_array")?,
                limit,
                output: if flag("indexes")? {
                    ExpandOutput::Indexes
                } else {
                    ExpandOutput::Values
                },
                signature: Signature::any(1, Volatility::Immutable),
            })
        }
        "kusto_type" => {
            let name = body.as_str().ok_or_else(bad)?;
            let ty = KustoType::ALL
                .iter()
                .copied()
                .find(|ty| ty.name() == name)
                .ok_or_else(bad)?;
            ScalarUDF::new_from_impl(TagType {
                ty,
                signature: Signature::any(1, Volatility::Immutable),
            })
        }
        "unavailable" => ScalarUDF::new_from_impl(Unavailable {
            message: body.as_str().ok_or_else(bad)?.to_string(),
            signature: Signature::exact(vec![], Volatility::Volatile),
        }),
        _ => return Err(bad()),
    };
    Ok(Arc::new(udf))
}

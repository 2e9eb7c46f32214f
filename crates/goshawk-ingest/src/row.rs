//! A lake row under construction: typed cells for the table's columns plus the source fields the
//! table has no column for, which end up in `AdditionalFields`.

use std::borrow::Cow;
use std::collections::HashMap;

/// Column lookups run several times per record; SipHash's DoS resistance buys nothing for the
/// fixed, compiled-in column names and cost a few percent of ingest time.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

fn fast_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6f73_6861_776b, 0x696e_6765_7374, 0x6c61_6b65, 0x726f_7773)
}

use goshawk_types::{KustoType, TableSchema, ingested_tables};
use serde_json::{Map, Value};

use crate::convert::{self, Cell};
use crate::jsonref::{JsonRef, ObjectRef, write_json_string};
use crate::map::ActivityColumns;

use goshawk_types::EXTRA_COLUMN;

/// Column lookup for one table, by exact name and case-insensitively.
#[derive(Debug)]
pub struct TableIndex {
    pub schema: &'static TableSchema,
    pub types: Vec<KustoType>,
    exact: FastMap<&'static str, usize>,
    folded: FastMap<String, usize>,
    pub time_column: usize,
    pub extra_column: usize,
    /// `Type`, which holds the table's name, where the table has it.
    type_column: Option<usize>,
}

impl TableIndex {
    fn new(schema: &'static TableSchema) -> Option<Self> {
        let columns: Vec<(&'static str, KustoType)> = schema.lake_columns().collect();
        let mut exact = FastMap::with_hasher(fast_hasher());
        let mut folded = FastMap::with_hasher(fast_hasher());
        for (i, (name, _)) in columns.iter().enumerate() {
            exact.insert(*name, i);
            folded.insert(name.to_ascii_lowercase(), i);
        }
        Some(TableIndex {
            schema,
            types: columns.iter().map(|(_, ty)| *ty).collect(),
            time_column: *exact.get("TimeGenerated")?,
            extra_column: *exact.get(EXTRA_COLUMN)?,
            type_column: exact.get("Type").copied(),
            exact,
            folded,
        })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.exact.get(name).copied()
    }

    pub fn column_folded(&self, name: &str) -> Option<usize> {
        if let Some(index) = self.exact.get(name) {
            return Some(*index);
        }
        // Lower-cased on the stack: this runs for every source field without a mapping.
        let mut buffer = [0u8; 64];
        match buffer.get_mut(..name.len()) {
            Some(folded) => {
                folded.copy_from_slice(name.as_bytes());
                folded.make_ascii_lowercase();
                // ASCII lower-casing keeps the text UTF-8.
                let folded = std::str::from_utf8(folded).ok()?;
                self.folded.get(folded).copied()
            }
            None => self.folded.get(&name.to_ascii_lowercase()).copied(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.schema.name
    }
}

/// A column of a row's table: by name, or by an index looked up once per run
/// ([`ColumnIndex`], for the mappings that run for millions of records).
pub trait Column: Copy {
    fn index_in(self, table: &TableIndex) -> Option<usize>;
    fn describe(self) -> String;
}

impl Column for &str {
    fn index_in(self, table: &TableIndex) -> Option<usize> {
        table.column(self)
    }

    fn describe(self) -> String {
        self.to_string()
    }
}

/// A column's position in the table it was looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnIndex(pub usize);

impl Column for ColumnIndex {
    fn index_in(self, table: &TableIndex) -> Option<usize> {
        (self.0 < table.types.len()).then_some(self.0)
    }

    fn describe(self) -> String {
        format!("#{}", self.0)
    }
}

/// The column indexes of every table goshawk ingests.
#[derive(Debug)]
pub struct Tables {
    tables: Vec<TableIndex>,
    activity: Option<ActivityColumns>,
}

impl Tables {
    pub fn new() -> Self {
        let tables: Vec<TableIndex> = ingested_tables()
            .iter()
            .filter_map(TableIndex::new)
            .collect();
        let activity = tables
            .iter()
            .find(|t| t.name() == "AzureActivity")
            .and_then(ActivityColumns::new);
        Tables { tables, activity }
    }

    /// The AzureActivity columns the diagnostic record mapping writes.
    pub fn activity_columns(&self) -> Option<&ActivityColumns> {
        self.activity.as_ref()
    }

    pub fn get(&self, name: &str) -> Option<&TableIndex> {
        self.tables
            .iter()
            .find(|t| t.schema.name.eq_ignore_ascii_case(name))
    }

    pub fn all(&self) -> &[TableIndex] {
        &self.tables
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// A finished row: one optional cell per lake column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    pub cells: Vec<Option<Cell<'a>>>,
}

impl Row<'_> {
    /// Every cell as the text or value it stands for (JSON serialised, twins copied), for
    /// comparing rows built by different paths.
    #[cfg(test)]
    pub fn resolved(self) -> Vec<Option<Cell<'static>>> {
        let mut cells: Vec<Option<Cell<'static>>> = Vec::with_capacity(self.cells.len());
        for cell in self.cells {
            let resolved = match cell {
                Some(Cell::Twin(from)) => cells.get(from).cloned().flatten(),
                other => other.map(Cell::into_owned),
            };
            cells.push(resolved);
        }
        cells
    }
}

/// A row under construction; its text cells may borrow from the record's input (`'a`).
pub struct RowBuilder<'t, 'a> {
    pub table: &'t TableIndex,
    cells: Vec<Option<Cell<'a>>>,
    /// Source fields for `AdditionalFields`, in the order they were kept; names are unique.
    extra: Vec<(Cow<'a, str>, Extra<'a>)>,
}

/// A value kept for `AdditionalFields`.
#[derive(Debug)]
enum Extra<'a> {
    Value(Value),
    Ref(JsonRef<'a>),
}

/// The kept fields as one JSON object, in order: the text `serde_json::Map` (with
/// `preserve_order`) gives for them.
fn extra_fields_text(fields: &[(Cow<'_, str>, Extra<'_>)]) -> String {
    let mut text = String::with_capacity(256);
    text.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        write_json_string(key, &mut text);
        text.push(':');
        match value {
            Extra::Ref(value) => value.write_json_text(&mut text),
            // Serialising a Value cannot fail: keys are strings and numbers came from JSON.
            Extra::Value(value) => text.push_str(&serde_json::to_string(value).unwrap_or_default()),
        }
    }
    text.push('}');
    text
}

impl<'t, 'a> RowBuilder<'t, 'a> {
    pub fn new(table: &'t TableIndex) -> Self {
        RowBuilder {
            table,
            cells: vec![None; table.types.len()],
            extra: Vec::new(),
        }
    }

    fn index(&self, column: impl Column) -> Result<usize, String> {
        // Mapping code names columns literally; a miss is a bug in the mapping, reported as such.
        column.index_in(self.table).ok_or_else(|| {
            format!(
                "internal mapping error: {} has no column {}",
                self.table.name(),
                column.describe()
            )
        })
    }

    /// Stores a JSON value in `column`, converted to the column's type.
    pub fn set(&mut self, column: &str, value: &Value) -> Result<(), String> {
        let index = self.index(column)?;
        self.set_at(index, value)
    }

    fn set_at(&mut self, index: usize, value: &Value) -> Result<(), String> {
        let cell = convert::from_json(self.table.types[index], value)
            .map_err(|reason| self.column_error(index, &reason))?;
        self.cells[index] = cell;
        Ok(())
    }

    fn column_error(&self, index: usize, reason: &str) -> String {
        format!(
            "column {}: {reason}",
            self.table
                .schema
                .lake_columns()
                .nth(index)
                .map_or("?", |(n, _)| n)
        )
    }

    /// [`Self::set`] for a borrowed JSON value.
    pub fn set_ref(&mut self, column: impl Column, value: &JsonRef<'a>) -> Result<(), String> {
        let index = self.index(column)?;
        self.set_at_ref(index, value)
    }

    fn set_at_ref(&mut self, index: usize, value: &JsonRef<'a>) -> Result<(), String> {
        let cell = convert::from_json_ref(self.table.types[index], value)
            .map_err(|reason| self.column_error(index, &reason))?;
        self.cells[index] = cell;
        Ok(())
    }

    /// [`Self::set_ref`] of a value the row may keep (objects and arrays are serialised only
    /// when the row is stored).
    pub fn set_value(&mut self, column: impl Column, value: JsonRef<'a>) -> Result<(), String> {
        let index = self.index(column)?;
        self.set_at_value(index, value)
    }

    fn set_at_value(&mut self, index: usize, value: JsonRef<'a>) -> Result<(), String> {
        let cell = convert::from_json_ref_owned(self.table.types[index], value)
            .map_err(|reason| self.column_error(index, &reason))?;
        self.cells[index] = cell;
        Ok(())
    }

    /// [`Self::set`] for a JSON string value.
    pub fn set_str(&mut self, column: impl Column, text: &str) -> Result<(), String> {
        let index = self.index(column)?;
        let cell = convert::from_json_str(self.table.types[index], text)
            .map_err(|reason| self.column_error(index, &reason))?;
        self.cells[index] = cell.map(Cell::into_owned);
        Ok(())
    }

    /// [`Self::set_str`] of a string made for the row: kept as it is where the column stores
    /// the text unchanged, instead of being copied once more.
    pub fn set_string(&mut self, column: impl Column, text: String) -> Result<(), String> {
        let index = self.index(column)?;
        let cell = convert::from_json_str(self.table.types[index], &text)
            .map_err(|reason| self.column_error(index, &reason))?;
        let unchanged = matches!(&cell, Some(Cell::Str(Cow::Borrowed(s))) if *s == text);
        self.cells[index] = if unchanged {
            drop(cell);
            Some(Cell::Str(Cow::Owned(text)))
        } else {
            cell.map(Cell::into_owned)
        };
        Ok(())
    }

    /// [`Self::set_str`] of text that lives as long as the row (borrowed, not copied).
    pub fn set_borrowed(&mut self, column: impl Column, text: &'a str) -> Result<(), String> {
        let index = self.index(column)?;
        let cell = convert::from_json_str(self.table.types[index], text)
            .map_err(|reason| self.column_error(index, &reason))?;
        self.cells[index] = cell;
        Ok(())
    }

    /// [`Self::set_default`] for a JSON string value.
    pub fn set_default_str(&mut self, column: impl Column, text: &str) -> Result<(), String> {
        if self.is_set(column) {
            return Ok(());
        }
        self.set_str(column, text)
    }

    /// [`Self::set_by_name`] for borrowed members.
    pub fn set_by_name_ref(&mut self, fields: ObjectRef<'a>) -> Result<(), String> {
        for (key, value) in fields.into_entries() {
            match self.table.column_folded(&key) {
                Some(index) if index != self.table.extra_column && !self.is_set_at(index) => {
                    self.set_at_value(index, value)?;
                }
                _ => self.keep_extra_ref(key, value),
            }
        }
        Ok(())
    }

    /// Stores a JSON value in `column` unless the column already has a value.
    pub fn set_default(&mut self, column: &str, value: &Value) -> Result<(), String> {
        if self.is_set(column) {
            return Ok(());
        }
        self.set(column, value)
    }

    pub fn set_text(&mut self, column: &str, text: &str) -> Result<(), String> {
        self.set_str(column, text)
    }

    pub fn set_text_at(&mut self, index: usize, text: &str) -> Result<(), String> {
        let ty = self.table.types[index];
        let cell = convert::from_text(ty, text).map_err(|reason| {
            format!(
                "column {}: {reason}",
                self.table
                    .schema
                    .lake_columns()
                    .nth(index)
                    .map_or("?", |(n, _)| n)
            )
        })?;
        self.cells[index] = cell.map(Cell::into_owned);
        Ok(())
    }

    /// Copies the cell of `from` into `to` when `to` is empty (both columns of the same type).
    pub fn copy_if_unset(&mut self, from: impl Column, to: impl Column) -> Result<(), String> {
        let (from, to) = (self.index(from)?, self.index(to)?);
        if self.cells[to].is_none() && self.table.types[from] == self.table.types[to] {
            self.cells[to] = self.cells[from].clone();
        }
        Ok(())
    }

    /// The current value of `column`, cloned.
    pub fn cell(&self, column: &str) -> Option<Cell<'a>> {
        self.table
            .column(column)
            .and_then(|i| self.cells[i].clone())
    }

    /// Copies the cell of `from` into an empty `to` whatever the two column types: for a string
    /// and a dynamic column holding the same JSON text.
    pub fn copy_if_unset_any(&mut self, from: impl Column, to: impl Column) -> Result<(), String> {
        let (from, to) = (self.index(from)?, self.index(to)?);
        if self.cells[to].is_none() {
            self.cells[to] = match &self.cells[from] {
                Some(Cell::Json(_)) if from < to => Some(Cell::Twin(from)),
                other => other.clone(),
            };
        }
        Ok(())
    }

    pub fn is_set(&self, column: impl Column) -> bool {
        column
            .index_in(self.table)
            .is_some_and(|i| self.cells[i].is_some())
    }

    pub fn is_set_at(&self, index: usize) -> bool {
        self.cells[index].is_some()
    }

    /// Keeps a source field the table has no column for.
    pub fn keep_extra(&mut self, key: String, value: Value) {
        if value.is_null() {
            return;
        }
        self.keep_extra_as(Cow::Owned(key), Extra::Value(value));
    }

    /// [`Self::keep_extra`] of a borrowed field.
    pub fn keep_extra_ref(&mut self, key: Cow<'a, str>, value: JsonRef<'a>) {
        if matches!(value, JsonRef::Null) {
            return;
        }
        self.keep_extra_as(key, Extra::Ref(value));
    }

    fn keep_extra_as(&mut self, mut key: Cow<'a, str>, value: Extra<'a>) {
        while self.extra.iter().any(|(k, _)| *k == key) {
            // Two source fields with one name (envelope and payload): keep both.
            key.to_mut().insert(0, '_');
        }
        self.extra.push((key, value));
    }

    /// Stores each field in the column of the same name (case-insensitively), or in
    /// `AdditionalFields` when the table has no such column or the column is already filled.
    pub fn set_by_name(&mut self, fields: Map<String, Value>) -> Result<(), String> {
        for (key, value) in fields {
            match self.table.column_folded(&key) {
                Some(index) if index != self.table.extra_column && !self.is_set_at(index) => {
                    self.set_at(index, &value)?;
                }
                _ => self.keep_extra(key, value),
            }
        }
        Ok(())
    }

    /// Takes a datetime for `TimeGenerated` from the first of `fallbacks` that has one when the
    /// source had no time of its own.
    pub fn finish(mut self, time_fallbacks: &[&str]) -> Result<Row<'a>, String> {
        if self.cells[self.table.time_column].is_none() {
            let fallback = time_fallbacks
                .iter()
                .filter_map(|c| self.table.column(c))
                .find_map(|i| self.cells[i].clone());
            self.cells[self.table.time_column] = fallback;
        }
        if self.cells[self.table.time_column].is_none() {
            return Err(format!(
                "no TimeGenerated: the record has no event time for table {}",
                self.table.name()
            ));
        }
        if let Some(type_index) = self.table.type_column {
            self.cells[type_index] = Some(Cell::Str(Cow::Borrowed(self.table.name())));
        }
        if !self.extra.is_empty() {
            let text = extra_fields_text(&self.extra);
            self.cells[self.table.extra_column] = Some(Cell::Str(Cow::Owned(text)));
        }
        Ok(Row { cells: self.cells })
    }
}

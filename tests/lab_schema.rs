//! The lab file's JSON Schema: docs/lab.schema.json is what `pagelab schema` generates from the
//! types (`UPDATE_SCHEMA=1 cargo test --test lab_schema` rewrites it), every lab in labs/
//! validates against it, and it refuses what pagelab refuses (unknown fields, unknown values).
//!
//! The validator below covers the keywords the generated schema uses (JSON Schema 2020-12:
//! `$ref`, `type`, `properties`, `required`, `additionalProperties`, `anyOf`, `oneOf`,
//! `enum`, `const`, `items`, `prefixItems`, `minItems`, `maxItems`, `minimum`, `maximum`), and
//! fails on any other that constrains values, so a new keyword cannot pass unchecked.

use pagelab::lab::schema::lab_schema_json;
use serde_json::Value;
use std::path::Path;

const IGNORED: [&str; 8] =
    ["$schema", "$defs", "title", "description", "default", "format", "uniqueItems", "$id"];

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        other => panic!("unknown type {other}"),
    }
}

/// The errors of `v` against `schema` (`root` resolves `$ref`), with JSON paths.
fn validate(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{path}: not allowed"));
        }
        return;
    };
    for (key, rule) in obj {
        match key.as_str() {
            "$ref" => {
                let name = rule.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
                validate(root, &root["$defs"][name], v, path, errors);
            }
            "type" => {
                let ok = match rule {
                    Value::String(t) => type_ok(t, v),
                    Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
                    _ => panic!("bad type {rule}"),
                };
                if !ok {
                    errors.push(format!("{path}: {v} is not of type {rule}"));
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(value) = o.get(name) {
                            validate(root, sub, value, &format!("{path}.{name}"), errors);
                        }
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for name in rule.as_array().unwrap() {
                        if !o.contains_key(name.as_str().unwrap()) {
                            errors.push(format!("{path}: missing {name}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = obj.get("properties").and_then(Value::as_object);
                    for (name, value) in o {
                        if known.is_none_or(|k| !k.contains_key(name)) {
                            validate(root, rule, value, &format!("{path}.{name}"), errors);
                        }
                    }
                }
            }
            "anyOf" | "oneOf" => {
                let passing = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        validate(root, sub, v, path, &mut e);
                        e.is_empty()
                    })
                    .count();
                let ok = if key == "anyOf" { passing >= 1 } else { passing == 1 };
                if !ok {
                    errors.push(format!("{path}: {passing} of the {key} alternatives match {v}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(v) {
                    errors.push(format!("{path}: {v} is not one of {rule}"));
                }
            }
            "const" => {
                if rule != v {
                    errors.push(format!("{path}: {v} is not {rule}"));
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    let skip = obj.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
                    for (i, item) in a.iter().enumerate().skip(skip) {
                        validate(root, rule, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            "prefixItems" => {
                if let Some(a) = v.as_array() {
                    for (i, (sub, item)) in rule.as_array().unwrap().iter().zip(a).enumerate() {
                        validate(root, sub, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Some(a) = v.as_array() {
                    let n = usize::try_from(rule.as_u64().unwrap()).unwrap();
                    if (key == "minItems" && a.len() < n) || (key == "maxItems" && a.len() > n) {
                        errors.push(format!("{path}: {} items breaks {key} {n}", a.len()));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(bound)) = (v.as_f64(), rule.as_f64())
                    && ((key == "minimum" && x < bound) || (key == "maximum" && x > bound))
                {
                    errors.push(format!("{path}: {x} breaks {key} {bound}"));
                }
            }
            other if IGNORED.contains(&other) => {}
            other => panic!("the test's validator does not know the keyword {other}"),
        }
    }
}

fn schema() -> Value {
    serde_json::from_str(&lab_schema_json()).unwrap()
}

fn errors_of(lab: &Value) -> Vec<String> {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, lab, "$", &mut errors);
    errors
}

#[test]
fn docs_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lab.schema.json");
    let generated = lab_schema_json();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "{} is stale; run UPDATE_SCHEMA=1 cargo test --test lab_schema",
        path.display()
    );
}

#[test]
fn every_lab_in_labs_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    let mut count = 0;
    for dir in [root.clone(), root.join("course"), root.join("imports")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let lab: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let errors = errors_of(&lab);
                assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
                count += 1;
            }
        }
    }
    assert!(count >= 20, "{count} labs");
}

#[test]
fn the_schema_refuses_what_pagelab_refuses_and_describes_the_new_fields() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/course/exam16.json");
    let lab: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(errors_of(&lab).is_empty());
    let mut typo = lab.clone();
    typo["exercises"]["tasks"][0]["pionts"] = Value::from(3);
    assert!(errors_of(&typo).iter().any(|e| e.contains("pionts")), "{:?}", errors_of(&typo));
    let mut visibility = lab.clone();
    visibility["exercises"]["tasks"][0]["visibility"] = Value::from("sometimes");
    assert!(!errors_of(&visibility).is_empty());
    let mut policy = lab;
    policy["exercises"]["feedback"]["reveal"] = Value::from("never-ever");
    assert!(!errors_of(&policy).is_empty());

    let defs = &schema()["$defs"];
    let visibilities: Vec<&str> = defs["Visibility"]["oneOf"]
        .as_array()
        .map(|alts| alts.iter().filter_map(|a| a["const"].as_str()).collect())
        .or_else(|| {
            defs["Visibility"]["enum"].as_array().map(|e| e.iter().filter_map(Value::as_str).collect())
        })
        .unwrap();
    assert_eq!(visibilities, ["visible", "hidden", "after_due_date", "after_published"]);
    for field in ["feedback", "attempts", "sealed_explanation", "visibility", "hints", "explanation"] {
        assert!(defs["Task"]["properties"].get(field).is_some(), "Task.{field}");
    }
    for field in ["reveal", "attempts", "retry_penalty", "credit_after_reveal", "local_feedback"] {
        assert!(defs["FeedbackPolicy"]["properties"].get(field).is_some(), "FeedbackPolicy.{field}");
    }
}

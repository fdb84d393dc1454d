"""The JSON Schema cleaner (D.8, F#18) feature by feature, and function names (D.8 #10)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemini_proxy.errors import InvalidRequest
from gemini_proxy.translate.function_names import FunctionNames, sanitise_function_name
from gemini_proxy.translate.schema import _SchemaCleaner, clean_schema, is_plain_leaf, schema_has_properties

leaf_values = {
    "type": st.sampled_from(["string", "integer", "number", "boolean", "STRING", "object", ["string"]]),
    "description": st.one_of(st.text(max_size=5), st.integers()),
    "title": st.text(max_size=5),
    "pattern": st.one_of(st.text(max_size=5), st.none()),
    "enum": st.one_of(
        st.lists(st.text(max_size=3), max_size=3), st.lists(st.integers(), max_size=2), st.just("x")
    ),
    "format": st.sampled_from(["date-time", "enum", "int64", "double", "email", 5]),
    "minimum": st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=2), st.booleans()),
    "maximum": st.one_of(st.integers(), st.floats(allow_nan=False)),
    "minLength": st.one_of(st.integers(min_value=-2, max_value=5), st.floats(allow_nan=False)),
    "maxLength": st.integers(min_value=0, max_value=5),
}
leaves = st.fixed_dictionaries(
    {"type": leaf_values["type"]}, optional={k: v for k, v in leaf_values.items() if k != "type"}
)


class TestRefs:
    """D.8 #1: $ref is inlined, cycles are cut."""

    def test_defs_ref_inlined_and_defs_removed(self) -> None:
        """F#18: a $ref to $defs is replaced by the definition; $defs disappears."""
        schema = {
            "type": "object",
            "properties": {"home": {"$ref": "#/$defs/Address"}},
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}}},
        }
        assert clean_schema(schema) == {
            "type": "object",
            "properties": {"home": {"type": "object", "properties": {"city": {"type": "string"}}}},
        }

    def test_definitions_and_nested_pointer(self) -> None:
        """F#18: ``definitions`` and deeper JSON pointers (with ~1 escapes) resolve too."""
        schema = {
            "properties": {
                "a": {"$ref": "#/definitions/A"},
                "b": {"$ref": "#/definitions/A/properties/x~1y"},
            },
            "definitions": {"A": {"type": "object", "properties": {"x/y": {"type": "integer"}}}},
        }
        cleaned = clean_schema(schema)
        assert cleaned["properties"]["b"] == {"type": "integer"}
        assert cleaned["properties"]["a"]["properties"] == {"x/y": {"type": "integer"}}

    def test_sibling_keys_win_over_target(self) -> None:
        """F#18: a description next to $ref is kept over the target's."""
        schema = {
            "properties": {"a": {"$ref": "#/$defs/T", "description": "mine"}},
            "$defs": {"T": {"type": "string", "description": "theirs"}},
        }
        assert clean_schema(schema)["properties"]["a"] == {"type": "string", "description": "mine"}

    def test_recursive_ref_cycle_becomes_object(self) -> None:
        """F#18: a recursive $ref is expanded once, then cut to {"type": "object"}."""
        schema = {
            "$ref": "#/$defs/Node",
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "string"},
                        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    },
                }
            },
        }
        assert clean_schema(schema) == {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"type": "object"}},
            },
        }

    def test_mutual_recursion_and_root_ref_terminate(self) -> None:
        """F#18: A -> B -> A and a ref to the root itself both terminate."""
        schema = {
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/A"}, "self": {"$ref": "#"}},
            "$defs": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
                "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}},
            },
        }
        cleaned = clean_schema(schema)
        assert cleaned["properties"]["a"]["properties"]["b"]["properties"]["a"] == {"type": "object"}
        assert cleaned["properties"]["self"] == {"type": "object"}

    @pytest.mark.parametrize(
        "ref", ["#/$defs/Missing", "https://example.com/schema.json", "#/$defs/List/5", "#/$defs/NotSchema"]
    )
    def test_unresolvable_ref_is_400(self, ref: str) -> None:
        """F#18: a reference that cannot be resolved inside the schema names the place."""
        schema = {"properties": {"a": {"$ref": ref}}, "$defs": {"List": [1], "NotSchema": 5}}
        with pytest.raises(InvalidRequest) as raised:
            clean_schema(schema, param="tools[0].function.parameters")
        assert raised.value.param == "tools[0].function.parameters.properties.a.$ref"

    def test_exponential_expansion_is_refused(self) -> None:
        """A DAG of refs that doubles at each level is refused instead of expanded forever."""
        defs = {
            f"L{i}": {
                "type": "object",
                "properties": {"x": {"$ref": f"#/$defs/L{i + 1}"}, "y": {"$ref": f"#/$defs/L{i + 1}"}},
            }
            for i in range(30)
        }
        defs["L30"] = {"type": "string"}
        with pytest.raises(InvalidRequest, match="too large"):
            clean_schema({"$ref": "#/$defs/L0", "$defs": defs})

    def test_too_deep_nesting_is_refused(self) -> None:
        """Schemas nested beyond the depth limit are refused."""
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(100):
            schema = {"type": "array", "items": schema}
        with pytest.raises(InvalidRequest, match="too deeply"):
            clean_schema(schema)


class TestUnsupportedKeywords:
    """D.8 #2: keywords outside Gemini's subset are dropped."""

    @pytest.mark.parametrize(
        "keyword",
        [
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            {"$id": "x"},
            {"$comment": "c"},
            {"additionalProperties": False},
            {"unevaluatedProperties": False},
            {"patternProperties": {"^a": {"type": "string"}}},
            {"propertyNames": {"pattern": "^a"}},
            {"if": {}, "then": {}, "else": {}},
            {"not": {"required": ["a"]}},
            {"dependentRequired": {"a": ["b"]}},
            {"examples": [{}]},
            {"readOnly": True, "writeOnly": False, "deprecated": True},
            {"default": {}},
            {"strict": True},
        ],
    )
    def test_keyword_dropped(self, keyword: dict[str, Any]) -> None:
        """F#18: each unsupported keyword is removed, the rest of the schema kept."""
        schema = {"type": "object", "properties": {"a": {"type": "string"}}, **keyword}
        assert clean_schema(schema) == {"type": "object", "properties": {"a": {"type": "string"}}}

    def test_array_keywords_dropped(self) -> None:
        """F#18: uniqueItems/contains go, minItems/maxItems stay."""
        schema = {
            "type": "array",
            "items": {"type": "number"},
            "uniqueItems": True,
            "contains": {},
            "minItems": 1,
            "maxItems": 3,
        }
        assert clean_schema(schema) == {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 1,
            "maxItems": 3,
        }

    def test_kept_keywords_survive(self) -> None:
        """D.8 #2: the supported keywords are all preserved."""
        schema = {
            "type": "string",
            "title": "T",
            "description": "D",
            "minLength": 1,
            "maxLength": 9,
            "pattern": "^[a-z]+$",
            "example": "abc",
            "format": "date-time",
        }
        assert clean_schema(schema) == schema

    def test_property_names_are_not_keywords(self) -> None:
        """Property names that look like keywords are user data and stay."""
        schema = {"type": "object", "properties": {"default": {"type": "string"}, "$id": {"type": "integer"}}}
        assert clean_schema(schema) == schema


class TestTypes:
    """D.8 #3, #9: type lists, nullable, inference, case."""

    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
            (
                {"type": ["null", "integer"], "minimum": 0},
                {"type": "integer", "minimum": 0, "nullable": True},
            ),
            ({"type": "STRING"}, {"type": "string"}),
            (
                {"properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"a": {"type": "string"}}},
            ),
            ({"items": {"type": "string"}}, {"type": "array", "items": {"type": "string"}}),
            ({"type": "string", "nullable": True}, {"type": "string", "nullable": True}),
            ({"type": "null"}, {"type": "null"}),
            ({"type": "any"}, {}),
            (True, {}),
        ],
    )
    def test_type_forms(self, schema: Any, expected: dict[str, Any]) -> None:
        """F#18: null in a type list becomes nullable; missing types are inferred; case is normalised."""
        assert clean_schema(schema) == expected

    def test_several_types_become_any_of_with_their_keywords(self) -> None:
        """F#18: several non-null types split into one-type branches, each keeping its own keywords."""
        schema = {"type": ["string", "integer", "null"], "description": "id", "minLength": 2, "minimum": 1}
        assert clean_schema(schema) == {
            "description": "id",
            "nullable": True,
            "anyOf": [{"type": "string", "minLength": 2}, {"type": "integer", "minimum": 1}],
        }


class TestConstAndEnum:
    """D.8 #4: const and enums."""

    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"const": "fixed"}, {"type": "string", "enum": ["fixed"]}),
            ({"type": "string", "enum": ["a", "b"]}, {"type": "string", "enum": ["a", "b"]}),
            ({"enum": ["a", "b"]}, {"type": "string", "enum": ["a", "b"]}),
            ({"enum": ["a", None]}, {"type": "string", "enum": ["a"], "nullable": True}),
            (
                {"type": "integer", "enum": [1, 2, 3]},
                {"type": "integer", "description": "Allowed values: 1, 2, 3."},
            ),
            ({"const": 5}, {"type": "integer", "description": "Allowed values: 5."}),
            (
                {"const": True, "description": "flag"},
                {"type": "boolean", "description": "flag Allowed values: true."},
            ),
            (
                {"enum": [1, "a"]},
                {
                    "description": 'Allowed values: 1, "a".',
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
            ),
            ({"type": "string", "enum": ["a", 1]}, {"type": "string", "enum": ["a"]}),
        ],
    )
    def test_enum_forms(self, schema: dict[str, Any], expected: dict[str, Any]) -> None:
        """F#18: string enums stay; const becomes an enum; non-string enums keep their type and are described."""
        assert clean_schema(schema) == expected


class TestCombinators:
    """D.8 #5: oneOf, allOf, anyOf."""

    def test_one_of_becomes_any_of(self) -> None:
        """F#18: oneOf is sent as anyOf."""
        schema = {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "integer"}}}]}
        assert clean_schema(schema) == {
            "anyOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "integer"}}}]
        }

    def test_any_of_with_null_becomes_nullable_and_unwraps(self) -> None:
        """F#18: a null branch becomes nullable; a single remaining branch is unwrapped, parent keys kept."""
        schema = {
            "description": "when",
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
        }
        assert clean_schema(schema) == {
            "type": "string",
            "description": "when",
            "format": "date-time",
            "nullable": True,
        }

    def test_any_of_with_null_keeps_several_branches(self) -> None:
        """F#18: with several real branches, anyOf stays and nullable is set."""
        schema = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}
        assert clean_schema(schema) == {"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": True}

    def test_any_of_with_anything_branch_constrains_nothing(self) -> None:
        """An anyOf with an unconstrained branch accepts anything, so it is dropped."""
        assert clean_schema({"anyOf": [{"type": "string"}, {}]}) == {}

    def test_all_of_merges_properties_and_required(self) -> None:
        """F#18: allOf members are merged: properties and required united, refs resolved."""
        schema = {
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"type": "object", "properties": {"extra": {"type": "boolean"}}, "required": ["extra"]},
            ],
            "$defs": {
                "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
            },
        }
        assert clean_schema(schema) == {
            "type": "object",
            "properties": {"id": {"type": "string"}, "extra": {"type": "boolean"}},
            "required": ["id", "extra"],
        }

    def test_all_of_same_property_merged_recursively(self) -> None:
        """F#18: a property defined by two members gets both members' constraints."""
        schema = {
            "allOf": [
                {"properties": {"n": {"type": "integer"}}},
                {"properties": {"n": {"minimum": 1, "description": "count"}}},
            ]
        }
        assert clean_schema(schema) == {
            "type": "object",
            "properties": {"n": {"type": "integer", "description": "count", "minimum": 1}},
        }


class TestFormatsAndBounds:
    """D.8 #6 and the exclusive bounds."""

    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"type": "string", "format": "date-time"}, {"type": "string", "format": "date-time"}),
            (
                {"type": "string", "format": "enum", "enum": ["a"]},
                {"type": "string", "enum": ["a"], "format": "enum"},
            ),
            ({"type": "number", "format": "double"}, {"type": "number", "format": "double"}),
            ({"type": "integer", "format": "int64"}, {"type": "integer", "format": "int64"}),
            ({"type": "string", "format": "email"}, {"type": "string", "description": "Format: email."}),
            (
                {"type": "string", "format": "uri", "description": "Link."},
                {"type": "string", "description": "Link. Format: uri."},
            ),
            ({"type": "integer", "format": "float"}, {"type": "integer", "description": "Format: float."}),
        ],
    )
    def test_formats(self, schema: dict[str, Any], expected: dict[str, Any]) -> None:
        """F#18: supported formats per type stay; others are dropped and mentioned in the description."""
        assert clean_schema(schema) == expected

    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"type": "integer", "exclusiveMinimum": 0}, {"type": "integer", "minimum": 1}),
            ({"type": "integer", "exclusiveMaximum": 10}, {"type": "integer", "maximum": 9}),
            ({"type": "integer", "exclusiveMinimum": 0.5}, {"type": "integer", "minimum": 1}),
            ({"type": "number", "exclusiveMinimum": 0}, {"type": "number", "minimum": 0}),
            ({"type": "integer", "minimum": 5, "exclusiveMinimum": 0}, {"type": "integer", "minimum": 5}),
            ({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, {"type": "integer", "minimum": 1}),
            ({"type": "number", "multipleOf": 2, "maximum": 4}, {"type": "number", "maximum": 4}),
        ],
    )
    def test_bounds(self, schema: dict[str, Any], expected: dict[str, Any]) -> None:
        """Exclusive bounds fold into inclusive ones, exactly for integers."""
        assert clean_schema(schema) == expected


class TestObjects:
    """D.8 #7, #8 and array tuples."""

    def test_required_filtered_and_deduplicated(self) -> None:
        """F#18: required lists only existing properties, once each."""
        schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost", "a"]}
        assert clean_schema(schema)["required"] == ["a"]

    def test_required_dropped_when_empty(self) -> None:
        """F#18: a required list with nothing left is removed."""
        schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["ghost"]}
        assert "required" not in clean_schema(schema)

    def test_property_ordering_filtered(self) -> None:
        """propertyOrdering names only existing properties."""
        schema = {"type": "object", "properties": {"a": {}, "b": {}}, "propertyOrdering": ["b", "zz", "a"]}
        assert clean_schema(schema)["propertyOrdering"] == ["b", "a"]

    def test_nested_empty_object_stays_object(self) -> None:
        """F#18: a nested object without properties is kept as a free-form object."""
        schema = {
            "type": "object",
            "properties": {"meta": {"type": "object", "properties": {}, "additionalProperties": True}},
        }
        assert clean_schema(schema) == {"type": "object", "properties": {"meta": {"type": "object"}}}

    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"type": "object"}, False),
            ({"type": "object", "properties": {}}, False),
            ({}, False),
            ({"type": "object", "properties": {"a": {}}}, True),
            ({"type": "string"}, True),
        ],
    )
    def test_schema_has_properties(self, schema: dict[str, Any], expected: bool) -> None:
        """D.8 #8: empty top-level objects are recognised so ``parameters`` can be omitted."""
        assert schema_has_properties(clean_schema(schema)) is expected

    def test_tuple_items_become_any_of(self) -> None:
        """prefixItems and draft-4 tuple items become items anyOf of the positions."""
        expected = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}
        assert clean_schema({"prefixItems": [{"type": "string"}, {"type": "integer"}]}) == expected
        assert clean_schema({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}) == expected

    @pytest.mark.parametrize(
        ("schema", "param"),
        [
            ({"properties": {"a": 5}}, "p.properties.a"),
            ({"items": {"anyOf": "x"}}, "p.items.anyOf"),
            ({"allOf": {"a": 1}}, "p.allOf"),
            ({"$ref": 5}, "p.$ref"),
            ("string", "p"),
        ],
    )
    def test_non_schema_values_are_400(self, schema: Any, param: str) -> None:
        """Values where a schema must be name the place in the error."""
        with pytest.raises(InvalidRequest) as raised:
            clean_schema(schema, param="p")
        assert raised.value.param == param

    def test_input_is_not_modified(self) -> None:
        """Cleaning never mutates the client's schema."""
        schema = {
            "type": ["string", "null"],
            "$defs": {"A": {"type": "string"}},
            "properties": {"a": {"$ref": "#/$defs/A"}},
        }
        snapshot = repr(schema)
        clean_schema(schema)
        assert repr(schema) == snapshot


class TestPlainLeafFastPath:
    """The fast path for plain scalar leaves agrees with the general cleaner."""

    @settings(max_examples=300, deadline=None)
    @given(leaves)
    def test_fast_path_agrees_with_general_path(self, node: dict[str, Any]) -> None:
        """Whenever a leaf takes the fast path, the general path would have produced the same schema."""
        general = _SchemaCleaner(node, "p")._clean_keywords(node, ("#",), 0, "p")
        if is_plain_leaf(node):
            assert general == node
        assert clean_schema(node) == general

    @pytest.mark.parametrize(
        ("node", "plain"),
        [
            ({"type": "string", "description": "d"}, True),
            ({"type": "string", "enum": ["a"]}, True),
            ({"type": "integer", "minimum": 1, "format": "int32"}, True),
            ({"type": "string", "format": "email"}, False),
            ({"type": "integer", "enum": [1]}, False),
            ({"type": "object"}, False),
            ({"type": "string", "default": "x"}, False),
        ],
    )
    def test_plain_leaf_examples(self, node: dict[str, Any], plain: bool) -> None:
        """Only leaves with nothing to rewrite count as plain."""
        assert is_plain_leaf(node) is plain


class TestFunctionNames:
    """D.8 #10, F#17: function name sanitising with a reverse map."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("get_weather", "get_weather"),
            ("get-weather.v1:x", "get-weather.v1:x"),
            ("get weather", "get_weather"),
            ("9lives", "_9lives"),
            ("-dash", "_-dash"),
            ("a" * 65, "a" * 64),
            ("名前", "__"),
        ],
    )
    def test_sanitise(self, name: str, expected: str) -> None:
        """F#17: other characters become _, a bad first character gets a leading _, length caps at 64."""
        assert sanitise_function_name(name) == expected

    def test_reverse_map_only_holds_rewritten_names(self) -> None:
        """F#17: the reverse map restores rewritten names and leaves valid ones out."""
        names = FunctionNames()
        assert names.to_gemini("fine") == "fine"
        assert names.to_gemini("not fine") == "not_fine"
        assert names.to_gemini("not fine") == "not_fine"
        assert names.reverse_map() == {"not_fine": "not fine"}

    def test_collision_gets_suffix_within_length(self) -> None:
        """F#17: a collision gets a numeric suffix and still fits 64 characters."""
        names = FunctionNames()
        first = names.to_gemini("x" * 70)
        second = names.to_gemini("x" * 71)
        assert first == "x" * 64
        assert second == "x" * 62 + "_2"
        assert names.reverse_map() == {first: "x" * 70, second: "x" * 71}

"""DynamoDB expressions (condition, key condition, update, projection) on wire-form items.

Parsed once per expression text (the store builds the same texts again and again), evaluated with
the request's `ExpressionAttributeNames` and `ExpressionAttributeValues`. The grammar and the
semantics follow the DynamoDB developer guide: comparisons between different types are false,
`attribute_not_exists` of a missing item is true, `ADD` creates a missing number or set, `SET`
arithmetic needs numbers, and a key attribute cannot be updated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sre_copilot.adapters.memory.wire import WireItem, WireValue, compare_key, validation_error

_TOKEN = re.compile(r"\s*(?:(<>|<=|>=|[=<>(),+\-\[\].])|([#:]?[A-Za-z_][A-Za-z0-9_\-]*)|(\d+))")
KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})
COMPARATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise validation_error(f"Invalid expression: unexpected text at '{text[position:position + 20]}'")
        tokens.append(match.group(1) or match.group(2) or match.group(3))
        position = match.end()
    return tokens


# -- the tree ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Path:
    parts: tuple[str | int, ...]
    """Names (raw or `#placeholder`) and list indexes."""


@dataclass(frozen=True)
class Value:
    placeholder: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class Arithmetic:
    left: Operand
    operator: str
    right: Operand


Operand = Path | Value | Call | Arithmetic


@dataclass(frozen=True)
class Compare:
    operator: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class In:
    operand: Operand
    options: tuple[Operand, ...]


@dataclass(frozen=True)
class Logical:
    operator: str  # AND | OR
    left: Condition
    right: Condition


@dataclass(frozen=True)
class Not:
    condition: Condition


@dataclass(frozen=True)
class Function:
    call: Call


Condition = Compare | Between | In | Logical | Not | Function


@dataclass(frozen=True)
class Update:
    set: tuple[tuple[Path, Operand], ...]
    remove: tuple[Path, ...]
    add: tuple[tuple[Path, Value], ...]
    delete: tuple[tuple[Path, Value], ...]


# -- parsing ------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.upper() == word:
            self.i += 1
            return True
        return False

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise validation_error(f"Invalid expression '{self.text}': expected {expected or 'more'}, got {token}")
        self.i += 1
        return token

    def done(self) -> None:
        if self.peek() is not None:
            raise validation_error(f"Invalid expression '{self.text}': unexpected '{self.peek()}'")

    # conditions: OR < AND < NOT < comparisons, as DynamoDB ranks them
    def condition(self) -> Condition:
        left = self.conjunction()
        while self.keyword("OR"):
            left = Logical("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.keyword("AND"):
            left = Logical("AND", left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.keyword("NOT"):
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Condition:
        if self.peek() == "(":
            self.take("(")
            inner = self.condition()
            self.take(")")
            return inner
        operand = self.operand()
        token = self.peek()
        if token in COMPARATORS:
            self.take()
            return Compare(token, operand, self.operand())
        if self.keyword("BETWEEN"):
            low = self.operand()
            if not self.keyword("AND"):
                raise validation_error(f"Invalid expression '{self.text}': BETWEEN needs AND")
            return Between(operand, low, self.operand())
        if self.keyword("IN"):
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                options.append(self.operand())
            self.take(")")
            return In(operand, tuple(options))
        if isinstance(operand, Call) and operand.name in CONDITION_FUNCTIONS:
            return Function(operand)
        raise validation_error(f"Invalid expression '{self.text}': '{token}' is not a condition")

    def operand(self) -> Operand:
        token = self.take()
        if token.startswith(":"):
            return Value(token)
        if self.peek() == "(" and not token.startswith("#"):
            self.take("(")
            args: list[Operand] = []
            if self.peek() != ")":
                args.append(self.value_expression())
                while self.peek() == ",":
                    self.take(",")
                    args.append(self.value_expression())
            self.take(")")
            return Call(token, tuple(args))
        if token.upper() in KEYWORDS or not (token[0].isalpha() or token[0] in "#_"):
            raise validation_error(f"Invalid expression '{self.text}': '{token}' is not an operand")
        parts: list[str | int] = [token]
        while self.peek() in (".", "["):
            if self.take() == ".":
                parts.append(self.take())
            else:
                parts.append(int(self.take()))
                self.take("]")
        return Path(tuple(parts))

    def value_expression(self) -> Operand:
        left = self.operand()
        if self.peek() in ("+", "-"):
            operator = self.take()
            return Arithmetic(left, operator, self.operand())
        return left

    def update(self) -> Update:
        sets: list[tuple[Path, Operand]] = []
        removes: list[Path] = []
        adds: list[tuple[Path, Value]] = []
        deletes: list[tuple[Path, Value]] = []
        seen: set[str] = set()
        while self.peek() is not None:
            clause = self.take().upper()
            if clause not in ("SET", "REMOVE", "ADD", "DELETE") or clause in seen:
                raise validation_error(f"Invalid UpdateExpression '{self.text}': clause {clause} is "
                                       "unknown or repeated")
            seen.add(clause)
            while True:
                path = self.operand()
                if not isinstance(path, Path):
                    raise validation_error(f"Invalid UpdateExpression '{self.text}': {clause} needs a path")
                if clause == "SET":
                    self.take("=")
                    sets.append((path, self.value_expression()))
                elif clause == "REMOVE":
                    removes.append(path)
                else:
                    value = self.operand()
                    if not isinstance(value, Value):
                        raise validation_error(f"Invalid UpdateExpression '{self.text}': {clause} needs a value")
                    (adds if clause == "ADD" else deletes).append((path, value))
                if self.peek() != ",":
                    break
                self.take(",")
        return Update(tuple(sets), tuple(removes), tuple(adds), tuple(deletes))


CONDITION_FUNCTIONS = frozenset({"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
                                 "contains"})


@functools.lru_cache(maxsize=2048)
def parse_condition(text: str) -> Condition:
    parser = _Parser(text)
    condition = parser.condition()
    parser.done()
    return condition


@functools.lru_cache(maxsize=2048)
def parse_update(text: str) -> Update:
    return _Parser(text).update()


@functools.lru_cache(maxsize=512)
def parse_projection(text: str) -> tuple[Path, ...]:
    parser = _Parser(text)
    paths: list[Path] = []
    while True:
        path = parser.operand()
        if not isinstance(path, Path):
            raise validation_error(f"Invalid ProjectionExpression '{text}'")
        paths.append(path)
        if parser.peek() != ",":
            break
        parser.take(",")
    parser.done()
    return tuple(paths)


# -- evaluation ----------------------------------------------------------------------------------------
class Context:
    """The request's placeholders."""

    def __init__(self, names: Mapping[str, str] | None, values: Mapping[str, WireValue] | None) -> None:
        self.names = names or {}
        self.values = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def name(self, part: str) -> str:
        if part.startswith("#"):
            if part not in self.names:
                raise validation_error(f"An expression attribute name used in the document path is not "
                                       f"defined; attribute name: {part}")
            self.used_names.add(part)
            return self.names[part]
        return part

    def value(self, placeholder: str) -> WireValue:
        if placeholder not in self.values:
            raise validation_error(f"An expression attribute value used in expression is not defined; "
                                   f"attribute value: {placeholder}")
        self.used_values.add(placeholder)
        return self.values[placeholder]

    def check_all_used(self) -> None:
        unused = [n for n in self.names if n not in self.used_names]
        unused += [v for v in self.values if v not in self.used_values]
        if unused:
            raise validation_error(f"Value provided in ExpressionAttributeNames or ExpressionAttributeValues "
                                   f"unused in expressions: keys: {{{', '.join(sorted(unused))}}}")


def resolve(item: WireItem | None, path: Path, context: Context) -> WireValue | None:
    if item is None:
        return None
    first = path.parts[0]
    current: WireValue | None = item.get(context.name(str(first)))
    for part in path.parts[1:]:
        if current is None:
            return None
        if isinstance(part, int):
            items = current.get("L")
            current = items[part] if isinstance(items, list) and part < len(items) else None
        else:
            members = current.get("M")
            current = members.get(context.name(part)) if isinstance(members, dict) else None
    return current


def operand_value(item: WireItem | None, operand: Operand, context: Context) -> WireValue | None:
    if isinstance(operand, Path):
        return resolve(item, operand, context)
    if isinstance(operand, Value):
        return context.value(operand.placeholder)
    if isinstance(operand, Arithmetic):
        left, right = operand_value(item, operand.left, context), operand_value(item, operand.right, context)
        if left is None or right is None or "N" not in left or "N" not in right:
            raise validation_error("An operand in the update expression has an incorrect data type")
        a, b = Decimal(left["N"]), Decimal(right["N"])
        return {"N": _number(a + b if operand.operator == "+" else a - b)}
    call = operand
    if call.name == "if_not_exists":
        path, fallback = call.args
        if not isinstance(path, Path):
            raise validation_error("if_not_exists needs a path as its first operand")
        current = resolve(item, path, context)
        return current if current is not None else operand_value(item, fallback, context)
    if call.name == "list_append":
        left, right = (operand_value(item, a, context) for a in call.args)
        if left is None or right is None or "L" not in left or "L" not in right:
            raise validation_error("An operand in the update expression has an incorrect data type")
        return {"L": [*left["L"], *right["L"]]}
    if call.name == "size":
        value = operand_value(item, call.args[0], context)
        return None if value is None else {"N": str(_size(value))}
    raise validation_error(f"Invalid function name; function: {call.name}")


def evaluate(item: WireItem | None, condition: Condition, context: Context) -> bool:
    if isinstance(condition, Logical):
        first = evaluate(item, condition.left, context)
        second = evaluate(item, condition.right, context)
        return (first and second) if condition.operator == "AND" else (first or second)
    if isinstance(condition, Not):
        return not evaluate(item, condition.condition, context)
    if isinstance(condition, Compare):
        left = operand_value(item, condition.left, context)
        right = operand_value(item, condition.right, context)
        return _compare(condition.operator, left, right)
    if isinstance(condition, Between):
        value = operand_value(item, condition.operand, context)
        low = operand_value(item, condition.low, context)
        high = operand_value(item, condition.high, context)
        return _compare(">=", value, low) and _compare("<=", value, high)
    if isinstance(condition, In):
        value = operand_value(item, condition.operand, context)
        return any(_compare("=", value, operand_value(item, o, context)) for o in condition.options)
    call = condition.call
    target = call.args[0]
    if not isinstance(target, Path):
        raise validation_error(f"{call.name} needs a path as its first operand")
    value = resolve(item, target, context)
    if call.name == "attribute_exists":
        return value is not None
    if call.name == "attribute_not_exists":
        return value is None
    argument = operand_value(item, call.args[1], context)
    if value is None or argument is None:
        return False
    if call.name == "attribute_type":
        return next(iter(value)) == argument.get("S")
    if call.name == "begins_with":
        kind = next(iter(value))
        return kind in ("S", "B") and kind in argument and value[kind].startswith(argument[kind])
    # contains: a substring of a string, or a member of a set or list
    kind = next(iter(value))
    if kind == "S":
        return "S" in argument and argument["S"] in value["S"]
    if kind in ("SS", "NS", "BS"):
        member = next(iter(argument.values()))
        return member in value[kind]
    if kind == "L":
        return any(_compare("=", element, argument) for element in value["L"])
    return False


def _compare(operator: str, left: WireValue | None, right: WireValue | None) -> bool:
    if left is None or right is None:
        return operator == "<>" and (left is None) != (right is None)
    if operator in ("=", "<>"):
        equal = _equal(left, right)
        return equal if operator == "=" else not equal
    a, b = compare_key(left), compare_key(right)
    if a is None or b is None or a[0] != b[0]:
        return False  # only scalars of one type are ordered
    if operator == "<":
        return a[1] < b[1]
    if operator == "<=":
        return a[1] <= b[1]
    if operator == ">":
        return a[1] > b[1]
    return a[1] >= b[1]


def _equal(left: WireValue, right: WireValue) -> bool:
    (kind_a, a), (kind_b, b) = next(iter(left.items())), next(iter(right.items()))
    if kind_a != kind_b:
        return False
    if kind_a == "N":
        return Decimal(a) == Decimal(b)
    if kind_a == "NS":
        return {Decimal(x) for x in a} == {Decimal(x) for x in b}
    if kind_a in ("SS", "BS"):
        return set(a) == set(b)
    if kind_a == "M":
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if kind_a == "L":
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _size(value: WireValue) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind in ("B", "SS", "NS", "BS", "L", "M"):
        return len(inner)
    raise validation_error(f"size() does not take a {kind}")


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return text


def apply_update(item: WireItem, update: Update, context: Context, key_names: frozenset[str]) -> set[str]:
    """Apply `update` to `item` in place; return the top-level attributes it touched. Every operand
    is read from the item as it was before the update, as DynamoDB does."""
    before: WireItem = dict(item)
    touched: set[str] = set()
    writes: list[tuple[Path, WireValue | None]] = []
    for path, operand in update.set:
        writes.append((path, operand_value(before, operand, context)))
    for path in update.remove:
        writes.append((path, None))
    for path, value_ref in update.add:
        value = context.value(value_ref.placeholder)
        current = resolve(before, path, context)
        kind = next(iter(value))
        if kind == "N":
            if current is not None and "N" not in current:
                raise validation_error("An operand in the update expression has an incorrect data type")
            total = Decimal(value["N"]) + (Decimal(current["N"]) if current else 0)
            writes.append((path, {"N": _number(total)}))
        elif kind in ("SS", "NS", "BS"):
            if current is not None and kind not in current:
                raise validation_error("An operand in the update expression has an incorrect data type")
            members = list(current[kind]) if current else []
            members += [m for m in value[kind] if m not in members]
            writes.append((path, {kind: members}))
        else:
            raise validation_error("Incorrect operand type for operator or function; operator: ADD")
    for path, value_ref in update.delete:
        value = context.value(value_ref.placeholder)
        current = resolve(before, path, context)
        kind = next(iter(value))
        if current is None:
            continue
        if kind not in current:
            raise validation_error("An operand in the update expression has an incorrect data type")
        members = [m for m in current[kind] if m not in value[kind]]
        writes.append((path, {kind: members} if members else None))
    top_level = [context.name(str(path.parts[0])) for path, _ in writes]
    resolved = [tuple(p if isinstance(p, int) else context.name(p) for p in path.parts) for path, _ in writes]
    if len(set(resolved)) != len(resolved):
        raise validation_error("Invalid UpdateExpression: Two document paths overlap with each other; "
                               "must remove or rewrite one of these paths")
    for (path, written), name in zip(writes, top_level, strict=True):
        if name in key_names:
            raise validation_error(f"One or more parameter values were invalid: Cannot update attribute "
                                   f"{name}. This attribute is part of the key")
        touched.add(name)
        _write(item, path, written, context)
    return touched


def _write(item: WireItem, path: Path, value: WireValue | None, context: Context) -> None:
    if len(path.parts) == 1:
        name = context.name(str(path.parts[0]))
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
        return
    parent = resolve(item, Path(path.parts[:-1]), context)
    last = path.parts[-1]
    if parent is None:
        raise validation_error("The document path provided in the update expression is invalid for update")
    if isinstance(last, int):
        elements = parent.get("L")
        if not isinstance(elements, list):
            raise validation_error("The document path provided in the update expression is invalid for update")
        if value is None:
            if last < len(elements):
                del elements[last]
        elif last < len(elements):
            elements[last] = value
        else:
            elements.append(value)
        return
    members = parent.get("M")
    if not isinstance(members, dict):
        raise validation_error("The document path provided in the update expression is invalid for update")
    if value is None:
        members.pop(context.name(last), None)
    else:
        members[context.name(last)] = value

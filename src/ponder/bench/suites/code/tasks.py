"""The code suite's tasks: small Python functions written for ponder, with hidden tests.

Each task has a signature and a description (what the model sees), hidden tests as
``(args, expected)`` pairs (``("__raises__", "ValueError")`` when it must raise), and a
reference solution that the test-suite checks passes every hidden test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RAISES_VALUE_ERROR = ("__raises__", "ValueError")


def expr(code: str) -> tuple[str, str]:
    """An argument built in the sandbox from trusted code (for big inputs)."""
    return ("__expr__", code)


@dataclass(frozen=True, slots=True)
class CodeTask:
    name: str
    level: int
    signature: str
    description: str
    tests: tuple[tuple[tuple[Any, ...], Any], ...]
    reference: str

    @property
    def function(self) -> str:
        return self.signature.split("(", 1)[0].removeprefix("def ").strip()


def _t(*pairs: tuple[tuple[Any, ...], Any]) -> tuple[tuple[tuple[Any, ...], Any], ...]:
    return pairs


TASKS: tuple[CodeTask, ...] = (
    # ---- level 1 -------------------------------------------------------------------------
    CodeTask(
        "clamp",
        1,
        "def clamp(x: float, lo: float, hi: float) -> float",
        "Return x limited to the closed range [lo, hi]. If lo > hi, raise ValueError.",
        _t(
            ((5, 0, 10), 5),
            ((-3, 0, 10), 0),
            ((12.5, 0, 10), 10),
            ((3, 3, 3), 3),
            ((1, 5, 2), RAISES_VALUE_ERROR),
        ),
        "def clamp(x, lo, hi):\n    if lo > hi:\n        raise ValueError('lo > hi')\n"
        "    return max(lo, min(x, hi))\n",
    ),
    CodeTask(
        "is_palindrome",
        1,
        "def is_palindrome(s: str) -> bool",
        "Whether s reads the same backwards, ignoring case and every character that is not a"
        " letter or digit. The empty string is a palindrome.",
        _t(
            (("A man, a plan, a canal: Panama",), True),
            (("race a car",), False),
            (("",), True),
            (("No 'x' in Nixon",), True),
            (("ab",), False),
            (("0P",), False),
        ),
        "def is_palindrome(s):\n    t = [c.lower() for c in s if c.isalnum()]\n"
        "    return t == t[::-1]\n",
    ),
    CodeTask(
        "second_largest",
        1,
        "def second_largest(nums: list[int]) -> int | None",
        "The second largest distinct value in nums, or None when there are fewer than two"
        " distinct values.",
        _t(
            (([3, 1, 4, 1, 5],), 4),
            (([5, 5, 5],), None),
            (([],), None),
            (([2, 9],), 2),
            (([-1, -7, -1, -3],), -3),
            (([9, 9, 8],), 8),
        ),
        "def second_largest(nums):\n    d = sorted(set(nums))\n"
        "    return d[-2] if len(d) >= 2 else None\n",
    ),
    CodeTask(
        "reverse_words",
        1,
        "def reverse_words(s: str) -> str",
        "Reverse the order of the words in s. Words are separated by any run of whitespace;"
        " the result joins them with single spaces and has no leading or trailing space.",
        _t(
            (("the sky  is blue",), "blue is sky the"),
            (("  hello world  ",), "world hello"),
            (("",), ""),
            (("one",), "one"),
            (("a\tb\nc",), "c b a"),
        ),
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
    ),
    CodeTask(
        "digit_sum",
        1,
        "def digit_sum(n: int) -> int",
        "The sum of the decimal digits of n; a negative n has the same digit sum as -n.",
        _t(((0,), 0), ((1234,), 10), ((-505,), 10), ((9999999999,), 90)),
        "def digit_sum(n):\n    return sum(int(c) for c in str(abs(n)))\n",
    ),
    CodeTask(
        "chunk",
        1,
        "def chunk(items: list, size: int) -> list[list]",
        "Split items into consecutive lists of length size (the last may be shorter). Raise"
        " ValueError when size < 1.",
        _t(
            (([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]),
            (([], 3), []),
            (([1, 2], 5), [[1, 2]]),
            (([1, 2, 3], 1), [[1], [2], [3]]),
            (([1], 0), RAISES_VALUE_ERROR),
            (([1, 2], -1), RAISES_VALUE_ERROR),
        ),
        "def chunk(items, size):\n    if size < 1:\n        raise ValueError('size')\n"
        "    return [items[i:i + size] for i in range(0, len(items), size)]\n",
    ),
    CodeTask(
        "dedupe",
        1,
        "def dedupe(items: list) -> list",
        "items without repeats, keeping the first occurrence of each value and the order.",
        _t(
            (([3, 1, 3, 2, 1],), [3, 1, 2]),
            (([],), []),
            ((["a", "b", "a"],), ["a", "b"]),
            (([1, 1, 1],), [1]),
        ),
        "def dedupe(items):\n    seen = set()\n    out = []\n    for x in items:\n"
        "        if x not in seen:\n            seen.add(x)\n            out.append(x)\n"
        "    return out\n",
    ),
    CodeTask(
        "format_thousands",
        1,
        "def format_thousands(n: int) -> str",
        "n with a comma between every group of three digits, e.g. 1234567 -> '1,234,567';"
        " negative numbers keep their sign.",
        _t(
            ((0,), "0"),
            ((999,), "999"),
            ((1000,), "1,000"),
            ((1234567,), "1,234,567"),
            ((-9876543,), "-9,876,543"),
        ),
        "def format_thousands(n):\n    return f'{n:,}'\n",
    ),
    CodeTask(
        "count_vowels",
        1,
        "def count_vowels(s: str) -> int",
        "How many characters of s are vowels (a, e, i, o, u, in either case).",
        _t((("Hello World",), 3), (("",), 0), (("AEIOUxyz",), 5), (("rhythm",), 0)),
        "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
    ),
    CodeTask(
        "fizzbuzz",
        1,
        "def fizzbuzz(n: int) -> list[str]",
        "For i from 1 to n: 'FizzBuzz' if i is divisible by 15, 'Fizz' by 3, 'Buzz' by 5,"
        " else str(i). Return the list (empty for n < 1).",
        _t(
            ((5,), ["1", "2", "Fizz", "4", "Buzz"]),
            ((0,), []),
            (
                (15,),
                [
                    "1",
                    "2",
                    "Fizz",
                    "4",
                    "Buzz",
                    "Fizz",
                    "7",
                    "8",
                    "Fizz",
                    "Buzz",
                    "11",
                    "Fizz",
                    "13",
                    "14",
                    "FizzBuzz",
                ],
            ),
        ),
        "def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
        "        out.append('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else"
        " 'Buzz' if i % 5 == 0 else str(i))\n    return out\n",
    ),
    # ---- level 2 -------------------------------------------------------------------------
    CodeTask(
        "run_length_encode",
        2,
        "def run_length_encode(s: str) -> str",
        "Run-length encode s as character followed by count, e.g. 'aaabcc' -> 'a3b1c2'.",
        _t(
            (("aaabcc",), "a3b1c2"),
            (("",), ""),
            (("a",), "a1"),
            (("zzzzzzzzzzzz",), "z12"),
            (("abab",), "a1b1a1b1"),
        ),
        "def run_length_encode(s):\n    out = []\n    i = 0\n    while i < len(s):\n"
        "        j = i\n        while j < len(s) and s[j] == s[i]:\n            j += 1\n"
        "        out.append(f'{s[i]}{j - i}')\n        i = j\n    return ''.join(out)\n",
    ),
    CodeTask(
        "run_length_decode",
        2,
        "def run_length_decode(s: str) -> str",
        "Decode a run-length string of letters each followed by a decimal count (which may"
        " have several digits), e.g. 'a3b1c12' -> 'aaab' + 'c' * 12.",
        _t(
            (("a3b1c2",), "aaabcc"), (("",), ""), (("x12",), "x" * 12), (("a1b10",), "a" + "b" * 10)
        ),
        "import re\ndef run_length_decode(s):\n"
        "    return ''.join(c * int(n) for c, n in re.findall(r'(\\D)(\\d+)', s))\n",
    ),
    CodeTask(
        "roman_to_int",
        2,
        "def roman_to_int(s: str) -> int",
        "The value of the Roman numeral s (I, V, X, L, C, D, M with subtractive pairs such as"
        " IV and CM).",
        _t(
            (("III",), 3),
            (("LVIII",), 58),
            (("MCMXCIV",), 1994),
            (("IX",), 9),
            (("MMMCMXCIX",), 3999),
            (("MDCLXVI",), 1666),
            (("CDXLIV",), 444),
        ),
        "def roman_to_int(s):\n    v = dict(I=1, V=5, X=10, L=50, C=100, D=500, M=1000)\n"
        "    total = 0\n    for i, c in enumerate(s):\n"
        "        if i + 1 < len(s) and v[c] < v[s[i + 1]]:\n            total -= v[c]\n"
        "        else:\n            total += v[c]\n    return total\n",
    ),
    CodeTask(
        "int_to_roman",
        2,
        "def int_to_roman(n: int) -> str",
        "The Roman numeral for 1 <= n <= 3999 (subtractive notation); raise ValueError"
        " outside that range.",
        _t(
            ((3,), "III"),
            ((58,), "LVIII"),
            ((1994,), "MCMXCIV"),
            ((3999,), "MMMCMXCIX"),
            ((1,), "I"),
            ((444,), "CDXLIV"),
            ((1666,), "MDCLXVI"),
            ((3888,), "MMMDCCCLXXXVIII"),
            ((0,), RAISES_VALUE_ERROR),
            ((4000,), RAISES_VALUE_ERROR),
        ),
        "def int_to_roman(n):\n    if not 1 <= n <= 3999:\n        raise ValueError(n)\n"
        "    table = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'),"
        " (90, 'XC'), (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'),"
        " (1, 'I')]\n    out = ''\n    for value, sym in table:\n"
        "        while n >= value:\n            out += sym\n            n -= value\n"
        "    return out\n",
    ),
    CodeTask(
        "merge_intervals",
        2,
        "def merge_intervals(intervals: list[list[int]]) -> list[list[int]]",
        "Merge overlapping or touching closed intervals [start, end] (given in any order) and"
        " return them sorted by start.",
        _t(
            (([[1, 3], [2, 6], [8, 10], [15, 18]],), [[1, 6], [8, 10], [15, 18]]),
            (([[1, 4], [4, 5]],), [[1, 5]]),
            (([],), []),
            (([[5, 7], [1, 2]],), [[1, 2], [5, 7]]),
            (([[1, 10], [2, 3], [4, 5]],), [[1, 10]]),
            (([[1, 2], [4, 5], [5, 7]],), [[1, 2], [4, 7]]),
            (([[1, 2], [4, 9], [5, 7]],), [[1, 2], [4, 9]]),
        ),
        "def merge_intervals(intervals):\n    out = []\n"
        "    for s, e in sorted(intervals):\n        if out and s <= out[-1][1]:\n"
        "            out[-1][1] = max(out[-1][1], e)\n        else:\n"
        "            out.append([s, e])\n    return out\n",
    ),
    CodeTask(
        "balanced_brackets",
        2,
        "def balanced_brackets(s: str) -> bool",
        "Whether the brackets (), [] and {} in s are balanced and properly nested; other"
        " characters are ignored.",
        _t(
            (("([]{})",), True),
            (("([)]",), False),
            (("",), True),
            (("((",), False),
            (("a(b[c]d)e",), True),
            (("}{",), False),
        ),
        "def balanced_brackets(s):\n    pairs = {')': '(', ']': '[', '}': '{'}\n    st = []\n"
        "    for c in s:\n        if c in '([{':\n            st.append(c)\n"
        "        elif c in pairs:\n            if not st or st.pop() != pairs[c]:\n"
        "                return False\n    return not st\n",
    ),
    CodeTask(
        "word_frequencies",
        2,
        "def word_frequencies(text: str) -> dict[str, int]",
        "Count the words of text case-insensitively. A word is a maximal run of letters, digits"
        " or apostrophes; keys are lower-case.",
        _t(
            (("The cat and the hat.",), {"the": 2, "cat": 1, "and": 1, "hat": 1}),
            (("",), {}),
            (("Don't stop, DON'T!",), {"don't": 2, "stop": 1}),
        ),
        "import re\ndef word_frequencies(text):\n    out = {}\n"
        '    for w in re.findall(r"[A-Za-z0-9\']+", text):\n'
        "        out[w.lower()] = out.get(w.lower(), 0) + 1\n    return out\n",
    ),
    CodeTask(
        "rotate_matrix",
        2,
        "def rotate_matrix(m: list[list[int]]) -> list[list[int]]",
        "Return the matrix m (a list of equal-length rows, possibly not square) rotated 90"
        " degrees clockwise, as a new list of lists.",
        _t(
            (([[1, 2], [3, 4]],), [[3, 1], [4, 2]]),
            (([[1, 2, 3]],), [[1], [2], [3]]),
            (([],), []),
            (([[1], [2]],), [[2, 1]]),
        ),
        "def rotate_matrix(m):\n    return [list(r) for r in zip(*m[::-1])]\n",
    ),
    CodeTask(
        "leftmost_index",
        2,
        "def leftmost_index(sorted_nums: list[int], target: int) -> int",
        "The index of the first occurrence of target in the ascending list sorted_nums, or -1."
        " Use binary search (lists may have a million elements).",
        _t(
            (([1, 2, 2, 2, 3], 2), 1),
            (([], 5), -1),
            (([1, 3, 5], 4), -1),
            ((expr("list(range(10**6))"), 999_999), 999_999),
            (([7, 7, 7], 7), 0),
        ),
        "import bisect\ndef leftmost_index(sorted_nums, target):\n"
        "    i = bisect.bisect_left(sorted_nums, target)\n"
        "    return i if i < len(sorted_nums) and sorted_nums[i] == target else -1\n",
    ),
    CodeTask(
        "parse_duration",
        2,
        "def parse_duration(text: str) -> int",
        "Seconds in a duration such as '1h30m', '45s', '2h5s' or '1d2h' (units d, h, m, s,"
        " each at most once, in that order). Raise ValueError for anything else, including ''.",
        _t(
            (("1h30m",), 5400),
            (("45s",), 45),
            (("1d2h",), 93600),
            (("2h5s",), 7205),
            (("",), RAISES_VALUE_ERROR),
            (("5x",), RAISES_VALUE_ERROR),
            (("10m1h",), RAISES_VALUE_ERROR),
        ),
        "import re\ndef parse_duration(text):\n"
        "    m = re.fullmatch(r'(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?', text)\n"
        "    if not text or m is None:\n        raise ValueError(text)\n"
        "    d, h, mi, s = (int(g or 0) for g in m.groups())\n"
        "    return d * 86400 + h * 3600 + mi * 60 + s\n",
    ),
    CodeTask(
        "caesar",
        2,
        "def caesar(s: str, shift: int) -> str",
        "Shift every ASCII letter of s by shift places in the alphabet (wrapping around,"
        " shift may be negative or large), keeping case; other characters are unchanged.",
        _t(
            (("Hello, World!", 3), "Khoor, Zruog!"),
            (("abc", -1), "zab"),
            (("xyz", 29), "abc"),
            (("AZaz@[`{", 1), "BAba@[`{"),
            (("", 5), ""),
        ),
        "def caesar(s, shift):\n    out = []\n    for c in s:\n"
        "        if 'a' <= c <= 'z':\n"
        "            out.append(chr((ord(c) - 97 + shift) % 26 + 97))\n"
        "        elif 'A' <= c <= 'Z':\n"
        "            out.append(chr((ord(c) - 65 + shift) % 26 + 65))\n"
        "        else:\n            out.append(c)\n    return ''.join(out)\n",
    ),
    CodeTask(
        "median",
        2,
        "def median(nums: list[float]) -> float",
        "The median of nums (the mean of the two middle values for an even count). Raise"
        " ValueError for an empty list. Do not modify nums.",
        _t(
            (([3, 1, 2],), 2),
            (([4, 1, 3, 2],), 2.5),
            (([7],), 7),
            (([],), RAISES_VALUE_ERROR),
            (([1.5, -2.5],), -0.5),
            (([5, 1, 4, 2, 3],), 3),
        ),
        "def median(nums):\n    if not nums:\n        raise ValueError('empty')\n"
        "    s = sorted(nums)\n    n = len(s)\n"
        "    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n",
    ),
    # ---- level 3 -------------------------------------------------------------------------
    CodeTask(
        "top_k_frequent",
        3,
        "def top_k_frequent(words: list[str], k: int) -> list[str]",
        "The k most frequent words, most frequent first; words with equal counts in"
        " alphabetical order. If there are fewer than k distinct words, return them all.",
        _t(
            ((["b", "a", "b", "c", "a", "b"], 2), ["b", "a"]),
            ((["x", "y", "z"], 2), ["x", "y"]),
            (([], 3), []),
            ((["a"], 5), ["a"]),
            ((["d", "c", "d", "c", "e"], 3), ["c", "d", "e"]),
        ),
        "from collections import Counter\ndef top_k_frequent(words, k):\n"
        "    c = Counter(words)\n    return sorted(c, key=lambda w: (-c[w], w))[:k]\n",
    ),
    CodeTask(
        "lis_length",
        3,
        "def lis_length(nums: list[int]) -> int",
        "The length of the longest strictly increasing subsequence of nums. Must handle 100000"
        " numbers quickly (O(n log n)).",
        _t(
            (([10, 9, 2, 5, 3, 7, 101, 18],), 4),
            (([],), 0),
            (([5, 5, 5],), 1),
            ((expr("list(range(100_000))"),), 100_000),
            ((expr("list(range(100_000, 0, -1))"),), 1),
        ),
        "import bisect\ndef lis_length(nums):\n    tails = []\n    for x in nums:\n"
        "        i = bisect.bisect_left(tails, x)\n        if i == len(tails):\n"
        "            tails.append(x)\n        else:\n            tails[i] = x\n"
        "    return len(tails)\n",
    ),
    CodeTask(
        "edit_distance",
        3,
        "def edit_distance(a: str, b: str) -> int",
        "The Levenshtein distance between a and b (insertions, deletions, substitutions).",
        _t(
            (("kitten", "sitting"), 3),
            (("", "abc"), 3),
            (("flaw", "lawn"), 2),
            (("same", "same"), 0),
            (("abcd", "ad"), 2),
            (("intention", "execution"), 5),
            ((expr("'a' * 300"), expr("'b' * 300")), 300),
        ),
        "def edit_distance(a, b):\n    prev = list(range(len(b) + 1))\n"
        "    for i, ca in enumerate(a, 1):\n        cur = [i]\n"
        "        for j, cb in enumerate(b, 1):\n"
        "            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))\n"
        "        prev = cur\n    return prev[-1]\n",
    ),
    CodeTask(
        "topo_sort",
        3,
        "def topo_sort(deps: dict[str, list[str]]) -> list[str]",
        "deps maps each task to the tasks it depends on (which may not be keys themselves)."
        " Return every task in an order where dependencies come first, choosing the"
        " alphabetically smallest available task at each step. Raise ValueError on a cycle.",
        _t(
            (({"b": ["a"], "c": ["b", "a"]},), ["a", "b", "c"]),
            (({},), []),
            (({"x": [], "a": []},), ["a", "x"]),
            (({"a": ["b"], "b": ["a"]},), RAISES_VALUE_ERROR),
            (({"d": ["c"], "b": ["a"]},), ["a", "b", "c", "d"]),
            (({k: [] for k in "hgfedcba"},), list("abcdefgh")),
        ),
        "import heapq\ndef topo_sort(deps):\n    nodes = set(deps)\n"
        "    for v in deps.values():\n        nodes.update(v)\n"
        "    indeg = {n: 0 for n in nodes}\n    users = {n: [] for n in nodes}\n"
        "    for n, ds in deps.items():\n        for d in set(ds):\n"
        "            indeg[n] += 1\n            users[d].append(n)\n"
        "    heap = [n for n in nodes if indeg[n] == 0]\n    heapq.heapify(heap)\n    out = []\n"
        "    while heap:\n        n = heapq.heappop(heap)\n        out.append(n)\n"
        "        for u in users[n]:\n            indeg[u] -= 1\n"
        "            if indeg[u] == 0:\n                heapq.heappush(heap, u)\n"
        "    if len(out) != len(nodes):\n        raise ValueError('cycle')\n    return out\n",
    ),
    CodeTask(
        "eval_rpn",
        3,
        "def eval_rpn(tokens: list[str]) -> int",
        "Evaluate integer Reverse Polish Notation with + - * /, where / truncates toward zero"
        " (so -7 / 2 is -3). Raise ValueError for a malformed expression.",
        _t(
            ((["2", "1", "+", "3", "*"],), 9),
            ((["4", "13", "5", "/", "+"],), 6),
            ((["-7", "2", "/"],), -3),
            ((["7", "-2", "/"],), -3),
            ((["5", "3", "-"],), 2),
            ((["3", "5", "-"],), -2),
            ((["-1", "1", "/"],), -1),
            ((["5", "1", "/"],), 5),
            ((["1", "+"],), RAISES_VALUE_ERROR),
            ((["1", "2"],), RAISES_VALUE_ERROR),
            ((["42"],), 42),
        ),
        "def eval_rpn(tokens):\n    st = []\n    for t in tokens:\n"
        "        if t in ('+', '-', '*', '/'):\n            if len(st) < 2:\n"
        "                raise ValueError('operands')\n            b, a = st.pop(), st.pop()\n"
        "            if t == '+': st.append(a + b)\n            elif t == '-': st.append(a - b)\n"
        "            elif t == '*': st.append(a * b)\n"
        "            else:\n                q = abs(a) // abs(b)\n"
        "                st.append(q if (a >= 0) == (b > 0) else -q)\n"
        "        else:\n            st.append(int(t))\n"
        "    if len(st) != 1:\n        raise ValueError('leftover')\n    return st[0]\n",
    ),
    CodeTask(
        "spiral_order",
        3,
        "def spiral_order(matrix: list[list[int]]) -> list[int]",
        "The elements of matrix (equal-length rows, any shape) in clockwise spiral order from"
        " the top-left corner.",
        _t(
            (([[1, 2, 3], [4, 5, 6], [7, 8, 9]],), [1, 2, 3, 6, 9, 8, 7, 4, 5]),
            (([],), []),
            (([[1, 2, 3, 4], [5, 6, 7, 8]],), [1, 2, 3, 4, 8, 7, 6, 5]),
            (([[1], [2], [3]],), [1, 2, 3]),
        ),
        "def spiral_order(matrix):\n    out = []\n    m = [list(r) for r in matrix]\n"
        "    while m:\n        out.extend(m.pop(0))\n        m = [list(r) for r in zip(*m)][::-1]\n"
        "    return out\n",
    ),
    CodeTask(
        "word_wrap",
        3,
        "def word_wrap(text: str, width: int) -> list[str]",
        "Greedily wrap the whitespace-separated words of text into lines of at most width"
        " characters (words joined by single spaces). A word longer than width goes on a line"
        " of its own, unbroken.",
        _t(
            (("the quick brown fox jumps", 10), ["the quick", "brown fox", "jumps"]),
            (("", 5), []),
            (("supercalifragilistic is long", 8), ["supercalifragilistic", "is long"]),
            (("a b c", 1), ["a", "b", "c"]),
            (("ab cd ef", 5), ["ab cd", "ef"]),
            (("ab cd", 4), ["ab", "cd"]),
        ),
        "def word_wrap(text, width):\n    lines = []\n    cur = ''\n    for w in text.split():\n"
        "        if not cur:\n            cur = w\n        elif len(cur) + 1 + len(w) <= width:\n"
        "            cur += ' ' + w\n"
        "        else:\n"
        "            lines.append(cur)\n"
        "            cur = w\n"
        "    if cur:\n        lines.append(cur)\n    return lines\n",
    ),
    CodeTask(
        "count_islands",
        3,
        "def count_islands(grid: list[str]) -> int",
        "grid is a list of equal-length strings of '#' (land) and '.' (water). Count the"
        " islands: groups of land cells connected horizontally or vertically. Grids may be"
        " 300 x 300 (avoid deep recursion).",
        _t(
            ((["#.#", "#..", "..#"],), 3),
            (([],), 0),
            ((["...", "..."],), 0),
            ((["###", "#.#", "###"],), 1),
            ((["#.#", "###"],), 1),
            ((["..#", "###"],), 1),
            ((["#...", "#.#.", "##.."],), 2),
            ((["#..", "...", "#.."],), 2),
            ((["#.#"],), 2),
            ((["..#", ".##"],), 1),
            ((["#.#", "...", "###"],), 3),
            ((["#..#", "...#", "#..#"],), 3),
            ((expr("['#' * 300] * 300"),), 1),
            ((expr("['#.' * 150, '.#' * 150] * 150"),), 45000),
        ),
        "def count_islands(grid):\n    seen = set()\n    n = 0\n"
        "    for r, row in enumerate(grid):\n        for c, ch in enumerate(row):\n"
        "            if ch == '#' and (r, c) not in seen:\n                n += 1\n"
        "                stack = [(r, c)]\n                seen.add((r, c))\n"
        "                while stack:\n                    y, x = stack.pop()\n"
        "                    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):\n"
        "                        yy, xx = y + dy, x + dx\n"
        "                        if 0 <= yy < len(grid) and 0 <= xx < len(grid[yy]) and"
        " grid[yy][xx] == '#' and (yy, xx) not in seen:\n"
        "                            seen.add((yy, xx))\n"
        "                            stack.append((yy, xx))\n"
        "    return n\n",
    ),
    CodeTask(
        "ledger_balances",
        3,
        "def ledger_balances(entries: list[tuple[str, str, float | None]]) -> dict[str, float]",
        "entries are (customer, kind, amount) with kind 'order' or 'refund'. Return each"
        " customer's net spend (orders minus refunds), rounded to 2 decimals. An amount of None"
        " counts as 0; a customer with only None amounts still appears with 0.0. Raise"
        " ValueError for any other kind.",
        _t(
            (
                ([("ann", "order", 10.0), ("bo", "order", 5.5), ("ann", "refund", 2.25)],),
                {"ann": 7.75, "bo": 5.5},
            ),
            (([],), {}),
            (([("cy", "order", None)],), {"cy": 0.0}),
            (([("ann", "gift", 1.0)],), RAISES_VALUE_ERROR),
            (([("d", "order", 0.1), ("d", "order", 0.2)],), {"d": 0.3}),
            (([("e", "order", 10.0), ("e", "refund", 3.333)],), {"e": 6.67}),
        ),
        "def ledger_balances(entries):\n    out = {}\n    for who, kind, amount in entries:\n"
        "        if kind not in ('order', 'refund'):\n            raise ValueError(kind)\n"
        "        sign = 1 if kind == 'order' else -1\n"
        "        out[who] = out.get(who, 0.0) + sign * (amount or 0.0)\n"
        "    return {k: round(v, 2) for k, v in out.items()}\n",
    ),
    CodeTask(
        "next_permutation",
        3,
        "def next_permutation(nums: list[int]) -> list[int]",
        "The next lexicographically greater permutation of nums as a new list; for the last"
        " permutation, the first (ascending) one. Duplicates are allowed.",
        _t(
            (([1, 2, 3],), [1, 3, 2]),
            (([3, 2, 1],), [1, 2, 3]),
            (([1, 1, 5],), [1, 5, 1]),
            (([],), []),
            (([1, 3, 2],), [2, 1, 3]),
            (([2, 2, 0, 4, 3, 1],), [2, 2, 1, 0, 3, 4]),
            (([1, 3, 3],), [3, 1, 3]),
            (([2, 3, 2],), [3, 2, 2]),
            (([2, 3, 3, 1],), [3, 1, 2, 3]),
        ),
        "def next_permutation(nums):\n    a = list(nums)\n    i = len(a) - 2\n"
        "    while i >= 0 and a[i] >= a[i + 1]:\n        i -= 1\n    if i >= 0:\n"
        "        j = len(a) - 1\n        while a[j] <= a[i]:\n            j -= 1\n"
        "        a[i], a[j] = a[j], a[i]\n    a[i + 1:] = reversed(a[i + 1:])\n    return a\n",
    ),
    CodeTask(
        "days_between",
        2,
        "def days_between(a: str, b: str) -> int",
        "The number of days between two ISO dates 'YYYY-MM-DD' (never negative).",
        _t(
            (("2024-01-01", "2024-03-01"), 60),
            (("2023-03-01", "2023-01-01"), 59),
            (("2024-02-29", "2024-02-29"), 0),
            (("1999-12-31", "2000-01-01"), 1),
        ),
        "import datetime\ndef days_between(a, b):\n    d = datetime.date.fromisoformat\n"
        "    return abs((d(b) - d(a)).days)\n",
    ),
    CodeTask(
        "longest_common_prefix",
        2,
        "def longest_common_prefix(words: list[str]) -> str",
        "The longest string that every word in words starts with ('' for an empty list).",
        _t(
            ((["flower", "flow", "flight"],), "fl"),
            ((["dog", "racecar"],), ""),
            (([],), ""),
            ((["same"],), "same"),
            ((["ab", "a"],), "a"),
        ),
        "import os\ndef longest_common_prefix(words):\n"
        "    return os.path.commonprefix(words) if words else ''\n",
    ),
)

using LoraRecipes.Templating.Jinja;

namespace LoraRecipes.Tests.Templating;

/// <summary>The engine's semantics, each expected output written out by hand from Jinja2/Python's rules.</summary>
public class JinjaTemplateTests
{
    private static string Render(string template, Dictionary<string, object?>? variables = null, JinjaLimits? limits = null) =>
        JinjaTemplate.Parse(template, limits).Render(variables ?? [], () => new DateTime(2024, 7, 26, 9, 5, 0));

    [Theory]
    // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before one; one trailing newline goes.
    [InlineData("{% if true %}\n  x\n{% endif %}\n", "  x\n")]
    [InlineData("  {% if true %}\nx\n  {% endif %}\nz", "x\nz")]
    [InlineData("a  {%- if true -%}  b  {%- endif -%}  c", "abc")]
    [InlineData("a\n  {{- 'b' -}}\n  c", "abc")]
    [InlineData("{{ 'a' }}\n{{ 'b' }}", "a\nb")]
    [InlineData("x {# comment #}\ny", "x y")]
    [InlineData("a{%+ if true %}b{% endif +%}\nc", "ab\nc")]
    public void Whitespace_control_follows_trim_and_lstrip_blocks(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}{{ loop.length }},{% endfor %}",
        "10TrueFalse33,21FalseFalse23,32FalseTrue13,")]
    [InlineData("{{ [1,2,3][::-1] }}|{{ 'abc'[1:] }}|{{ [1,2,3,4][-2:] }}|{{ [1,2,3,4,5][::2] }}|{{ 'abc'[-1] }}", "[3, 2, 1]|bc|[3, 4]|[1, 3, 5]|c")]
    [InlineData("{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "3")]
    [InlineData("{% set n = 0 %}{% for x in [1] %}{% set n = 5 %}{% endfor %}{{ n }}", "0")]
    [InlineData("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}{{ greet('Bo') }}/{{ greet('Al', p='Yo') }}", "Hi Bo/Yo Al")]
    [InlineData("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ 2 ** 3 }}|{{ 7 / 2 }}|{{ 'a' ~ 1 }}|{{ 'x' if false else 'y' }}|{{ not true }}|{{ 1 in [1] }}|{{ 'b' not in 'abc' }}",
        "7|3|-4|1|8|3.5|a1|y|False|True|False")]
    [InlineData("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ 3 is odd }}{{ x is not defined }}{{ 1 is number }}", "FalseTrueTrueTrueTrueTrueTrue")]
    [InlineData("{{ ' a b '.strip() }}|{{ 'a,b'.split(',') }}|{{ ' a  b '.split() }}|{{ 'Hello'.startswith('He') }}|{{ 'x.md'.endswith(('.txt', '.md')) }}|{{ 'xxhixx'.lstrip('x') }}|{{ 'hixx'.rstrip('x') }}|{{ 'hello world'.title() }}|{{ 'aXa'.replace('a','b') }}|{{ 'AbC'.lower() }}{{ 'AbC'.upper() }}",
        "a b|['a', 'b']|['a', 'b']|True|True|hixx|hi|Hello World|bXb|abcABC")]
    [InlineData("{{ [1,2]|length }}|{{ {'a': [1, 'é', none, true]}|tojson }}|{{ [3,1]|first }}|{{ [3,1]|last }}|{{ ['a','b']|join('-') }}|{{ x|default('d') }}|{{ ''|default('e', true) }}",
        "2|{\"a\": [1, \"é\", null, true]}|3|1|a-b|d|e")]
    [InlineData("{{ [{'t':'f','n':1},{'t':'g','n':2}]|selectattr('t','equalto','f')|map(attribute='n')|list }}|{{ [{'a':1},{'b':2}]|rejectattr('a')|list }}|{{ ['A','B']|map('lower')|join }}",
        "[1]|[{'b': 2}]|ab")]
    [InlineData("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ {'k':'v'}|items|list }}|{{ '  t  '|trim }}|{{ 'ab'|upper }}|{{ 'hello there'|title }}|{{ 5|string ~ 'x' }}",
        "a\n  b\n\n  c|  a\n  b|[['k', 'v']]|t|AB|Hello There|5x")]
    [InlineData("{{ {'a': 1, 'b': [1, 2]}|tojson(indent=2) }}", "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ]\n}")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", "13")]
    [InlineData("{% for x in [1,2,3] if x > 1 %}{{ loop.length }}{% endfor %}|{% for x in [] %}a{% else %}empty{% endfor %}", "22|empty")]
    [InlineData("{% if 0 %}a{% elif '' %}b{% elif [0] %}c{% else %}d{% endif %}", "c")]
    [InlineData("{% set x %}captured {{ 1 }}{% endset %}[{{ x }}]", "[captured 1]")]
    [InlineData("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M') }}", "26 Jul 2024|2024-07-26 09:05")]
    [InlineData("{{ none }}|{{ true }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ [none, \"it's\"] }}|{{ undefined_name }}|", "None|True|1.0|0.30000000000000004|[None, \"it's\"]||")]
    [InlineData("{{ range(3)|list }}|{{ range(1, 7, 2)|list }}|{{ (1, 2)[0] }}|{{ {'a': {'b': 'c'}}.a.b }}|{{ {'a': 1}.get('z', 9) }}", "[0, 1, 2]|[1, 3, 5]|1|c|9")]
    [InlineData("{% filter upper %}shout{% endfilter %}", "SHOUT")]
    public void Renders_as_jinja2(string template, string expected) => Assert.Equal(expected, Render(template));

    [Fact]
    public void Variables_come_from_the_caller()
    {
        var messages = JinjaJson.Parse("""[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]""");
        string text = Render("{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}{{ bos_token }}",
            new() { ["messages"] = messages, ["bos_token"] = "<s>" });
        Assert.Equal("user:hi;assistant:yo;<s>", text);
    }

    [Fact]
    public void Generation_blocks_give_their_ranges()
    {
        var (text, spans) = JinjaTemplate.Parse("a{% generation %}bc{% endgeneration %}d{% generation %}e{% endgeneration %}")
            .RenderWithSpans(new Dictionary<string, object?>());
        Assert.Equal("abcde", text);
        Assert.Equal([(1, 3), (4, 5)], spans);
    }

    [Theory]
    [InlineData("line1\n{{ raise_exception('Conversation roles must alternate') }}", 2, 4, "Conversation roles must alternate")]
    [InlineData("{% if x %}\nno end", 1, 1, "never closed")]
    [InlineData("ok\n  {{ 1 + }}", 2, 10, "expected an expression")]
    [InlineData("{{ x.y + 1 }}", 1, 8, "undefined value")]
    [InlineData("{% for x in 5 %}{% endfor %}", 1, 13, "not iterable")]
    [InlineData("{{ x | nosuchfilter }}", 1, 6, "unknown filter 'nosuchfilter'")]
    [InlineData("{% include 'other.jinja' %}", 1, 4, "not supported")]
    [InlineData("{{ 'unclosed }}", 1, 4, "unclosed string")]
    [InlineData("{% endif %}", 1, 4, "no block open")]
    public void Errors_name_line_and_column(string template, int line, int column, string reason)
    {
        var e = Assert.Throws<JinjaException>(() => Render(template));
        Assert.Contains(reason, e.Message);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.StartsWith($"chat template line {line}, column {column}: ", e.Message);
    }

    [Fact]
    public void Raise_exception_is_marked_as_raised_by_the_template()
    {
        Assert.True(Assert.Throws<JinjaException>(() => Render("{{ raise_exception('no') }}")).RaisedByTemplate);
        Assert.False(Assert.Throws<JinjaException>(() => Render("{{ 1 + }}")).RaisedByTemplate);
    }

    [Theory]
    [InlineData("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations")]
    [InlineData("{% for i in range(1000) %}{{ 'x' * 10000 }}{% endfor %}", "output exceeds")]
    [InlineData("{{ 'x' * 100000000 }}", "exceeds")]
    [InlineData("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "nest deeper")]
    [InlineData("{{ range(100000000)|length }}", "exceeds the limit")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "exceeds")]
    public void Hostile_templates_fail_cleanly(string template, string reason)
    {
        var limits = new JinjaLimits { MaxOutputChars = 1_000_000, MaxLoopIterations = 100_000 };
        var e = Assert.Throws<JinjaException>(() => Render(template, limits: limits));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Deep_nesting_is_a_syntax_error_not_a_stack_overflow()
    {
        string deep = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        Assert.Contains("nests deeper", Assert.Throws<JinjaException>(() => Render(deep)).Message);
        string blocks = string.Concat(Enumerable.Repeat("{% if true %}", 5000)) + string.Concat(Enumerable.Repeat("{% endif %}", 5000));
        Assert.Contains("nests deeper", Assert.Throws<JinjaException>(() => Render(blocks)).Message);
    }
}

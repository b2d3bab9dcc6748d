using LoraRecipes.Templating.Jinja;

namespace LoraRecipes.Tests.Templating;

/// <summary>
/// Seeded mutation fuzzing of the Jinja engine (a fixed number of cases): every mutated chat template either renders
/// or fails with a <see cref="JinjaException"/> — never another exception, a hang or a crash.
/// </summary>
public sealed class JinjaFuzzTests
{
    private const string Seed = """
        {%- set ns = namespace(last=-1, sys='') %}{%- for m in messages[::-1] %}{%- if m.role == 'user' and ns.last < 0 %}{%- set ns.last = loop.index0 %}{%- endif %}{%- endfor %}
        {%- macro render(m, i) -%}<|im_start|>{{ m['role'] }}{{ '\n' }}{{ m.content | trim }}{% if m.tool_calls is defined %}{% for t in m.tool_calls %}{{ t.function | tojson(indent=2) }}{% endfor %}{% endif %}<|im_end|>{{ '\n' if i < 5 else '' }}{%- endmacro %}
        {{ bos_token }}{% for m in messages if m.role != 'system' %}{% if loop.first and m.role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}{{ render(m, loop.index) }}{% if m.content.startswith('<think>') %}{{ m.content.split('</think>')[-1].lstrip('\n') | upper }}{% endif %}{% endfor %}
        {%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' ~ (messages|length) ~ (tools|map(attribute='name')|join(', ') if tools else '') }}{% endif %}
        """;

    private const string Alphabet = "{}%#-+()[]|.,:'\"~=<>!*/ \n\tabcdefghijklmnoprstuxyz0123456789_";

    [Fact]
    public void Mutated_templates_render_or_fail_with_a_JinjaException()
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = JinjaJson.Parse("""[{"role": "system", "content": "s"}, {"role": "user", "content": " hi "}, {"role": "assistant", "content": "<think>x</think>\nyo", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]"""),
            ["tools"] = JinjaJson.Parse("""[{"name": "f"}, {"name": "g"}]"""),
            ["add_generation_prompt"] = true,
            ["bos_token"] = "<s>",
        };
        var limits = new JinjaLimits { MaxOutputChars = 100_000, MaxLoopIterations = 10_000 };
        Assert.Contains("<|im_start|>user\nhi<|im_end|>", JinjaTemplate.Parse(Seed, limits).Render(variables));

        var random = new Random(17);
        int rendered = 0, rejected = 0;
        for (int i = 0; i < 3000; i++)
        {
            var text = new System.Text.StringBuilder(Seed);
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits && text.Length > 0; e++)
            {
                int at = random.Next(text.Length);
                switch (random.Next(4))
                {
                    case 0: text.Remove(at, Math.Min(1 + random.Next(8), text.Length - at)); break;
                    case 1: text.Insert(at, Alphabet[random.Next(Alphabet.Length)]); break;
                    case 2: text[at] = Alphabet[random.Next(Alphabet.Length)]; break;
                    default:
                        int from = random.Next(text.Length), length = Math.Min(1 + random.Next(40), text.Length - from);
                        text.Insert(at, text.ToString(from, length));
                        break;
                }
            }
            string template = text.ToString();
            try
            {
                JinjaTemplate.Parse(template, limits).Render(variables);
                rendered++;
            }
            catch (JinjaException ex)
            {
                Assert.InRange(ex.Line, 1, template.Count(c => c == '\n') + 1);
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex.GetType().Name}: {ex.Message}\n{template}");
            }
        }
        Assert.True(rendered > 100 && rejected > 100, $"{rendered} rendered, {rejected} rejected");
    }
}

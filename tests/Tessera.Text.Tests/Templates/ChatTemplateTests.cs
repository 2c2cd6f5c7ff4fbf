using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Text.Templates;

namespace Tessera.Text.Tests.Templates;

/// <summary>
/// Chat templates rendered by Tessera's Jinja2 interpreter against Python's Jinja2 (configured as transformers
/// configures it) on the same templates and conversations: the outputs must be byte-identical.
/// </summary>
public class ChatTemplateTests
{
    // ChatML (Qwen, OpenHermes, ...): one line of concatenation per message.
    const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    // Llama-2 style: the system message folded into the first user turn, alternation enforced with raise_exception.
    const string Llama2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    // Zephyr style: one statement per line, relying on trim_blocks and lstrip_blocks.
    const string Zephyr = """
        {% for message in messages %}
        {% if message['role'] == 'user' %}
        {{ '<|user|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'system' %}
        {{ '<|system|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'assistant' %}
        {{ '<|assistant|>\n'  + message['content'] + eos_token }}
        {% endif %}
        {% if loop.last and add_generation_prompt %}
        {{ '<|assistant|>' }}
        {% endif %}
        {% endfor %}
        """;

    // A namespace carried out of loops, a filtered loop, loop.last, whitespace control, comments, filters and tests.
    const string Namespaced = """
        {%- set ns = namespace(system='', turns=0) -%}
        {#- collect the system messages first -#}
        {%- for m in messages if m.role == 'system' -%}
            {%- set ns.system = ns.system ~ (m.content | trim) ~ '\n' -%}
        {%- endfor -%}
        {%- if ns.system | length > 0 %}<sys>{{ ns.system | trim | upper }}</sys>
        {% endif -%}
        {%- for m in messages -%}
          {%- if m.role != 'system' -%}
            {%- set ns.turns = ns.turns + 1 -%}
            [{{ loop.index }}/{{ loop.length }}] {{ m.role | title }}: {{ m['content'] | default('(empty)', true) }}
            {%- if m.name is defined and m.name is string %} (name={{ m.name }}){% endif %}
            {%- if not loop.last %}{{ '\n' }}{% else %}{{ '\n--\n' }}{% endif -%}
          {%- endif -%}
        {%- endfor -%}
        turns={{ ns.turns }}; meta={{ {'n': messages|length, 'last': (messages|last).role, 'tools': tools, 'x': [1.5, 2, none, true]} | tojson }}
        {%- if add_generation_prompt %}
        <assistant>
        {%- endif %}
        """;

    // Llama-3.1 style: bos_token, a macro, strftime_now, tojson with an indent, a system message split off with set.
    const string Llama3 = """
        {{- bos_token }}
        {%- if not date_string is defined %}{%- set date_string = strftime_now("%d %b %Y") %}{%- endif %}
        {%- macro render(m, header='start') -%}
        <|{{ header }}_header_id|>{{ m['role'] }}<|end_header_id|>

        {{ m['content'] | trim }}<|eot_id|>
        {%- endmacro %}
        {%- if messages[0]['role'] == 'system' %}
            {%- set system_message = messages[0]['content']|trim %}
            {%- set messages = messages[1:] %}
        {%- else %}
            {%- set system_message = "" %}
        {%- endif %}
        <|start_header_id|>system<|end_header_id|>

        Today Date: {{ date_string }}
        {% if tools is not none %}Tools: {{ tools | tojson(indent=2) }}
        {% endif %}
        {{ system_message }}<|eot_id|>
        {%- for message in messages %}
        {{- render(message) }}
        {%- endfor %}
        {%- if add_generation_prompt %}
        <|start_header_id|>assistant<|end_header_id|>

        {% endif %}
        """;

    // Expressions and statements beyond the chat templates above.
    const string Features = """
        {% set roles = messages | map(attribute='role') | list %}
        roles={{ roles }} joined={{ roles | join(',') }} unique={{ roles | unique | list }} sorted={{ roles | sort(reverse=true) }}
        users={{ messages | selectattr('role', 'equalto', 'user') | list | length }} others={{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join('+') }}
        {% for m in messages %}
          {%+ if loop.first %}first {% elif loop.revindex0 == 0 %}last {% else %}mid{{ loop.revindex }} {% endif %}{{ loop.cycle('odd', 'even') }} {{ m.content[:7] }}|{{ m.content[-3:] }}|{{ m['content'][::2][:4] }}
          {% if m.content.startswith(('Hi', 'Hello')) %}greets {% endif %}{% if 'weather' in m.content %}weather {% endif %}{% if m.role not in ['system'] %}{{ m.content.split(' ')[0] | lower }} {{ m.content.replace('o', '0', 2) }}{% endif %}

          {% if loop.index > 3 %}{% break %}{% endif %}
        {% endfor %}
        {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 3 * 'ab' }} {{ [1, 2] + [3] }} {{ (1, 'a') }}
        {{ 'yes' if messages | length > 2 else 'no' }} {{ none }} {{ true and 'x' }} {{ false or 0 }} {{ not none }} {{ 1 < 2 < 3 }} {{ 'b' > 'a' }}
        {% for k, v in {'b': 1, 'a': [2, 'x'], 'c': {'d': none}} | dictsort %}{{ k }}={{ v }};{% endfor %} {{ {'z': 1, 'y': 2}.items() | list }}
        {% for i in range(1, 10, 3) %}{% if i == 4 %}{% continue %}{% endif %}{{ i }}{% else %}none{% endfor %} {% for x in [] %}x{% else %}empty{% endfor %}
        {% raw %}{{ not rendered }} {% if %}{% endraw %}
        {{ '  padded\t' | trim }}|{{ 'Hello World' | replace('World', 'There') }}|{{ 'abc' | upper | reverse }}|{{ [3, 1, 2] | max }}|{{ [1.5, 2] | sum }}|{{ 'x' | indent(2, true) }}
        {{ 'it\'s "quoted"' }} {{ ["it's", 'a"b', 'tab\there', 'é'] }} {{ messages[0].get('missing', 'dflt') }} {{ messages[0].keys() | list | length }}
        {% set a, b = 1, 2 %}{{ a + b }} {{ undefined_name | default('dflt') }} [{{ undefined_name }}] {{ undefined_name is defined }} {{ messages[99] is defined }}
        {% filter upper %}filtered {{ messages[0].role }}{% endfilter %} {% set block %}captured {{ 1 + 1 }}{% endset %}{{ block | length }}
        {#- a comment on its own line #}
            {{- 'stripped' -}}
            after
        {{ 'é' | tojson }} {{ {'k': 'line\nbreak <tag>'} | tojson }} {{ 42 | string ~ '!' }} {{ '3' | int + 1 }} {{ 2.7 | int }} {{ 10 | float }}
        """;

    static readonly object[] Conversation =
    [
        new { role = "system", content = "You are a helpful assistant.  " },
        new { role = "user", content = "Hello! What's the weather like?" },
        new { role = "assistant", content = " It is sunny, 24°C. ☀️ Anything else? " },
        new { role = "user", content = "Hi again: \"quotes\", 'apostrophes', a\nnewline and emoji 🙂 end" },
    ];

    static readonly object[] WithoutSystem =
    [
        new { role = "user", content = "One" },
        new { role = "assistant", content = "Two", name = "bot" },
        new { role = "user", content = "Three" },
    ];

    static readonly object[] NotAlternating =
    [
        new { role = "user", content = "One" },
        new { role = "user", content = "Two" },
    ];

    static readonly Dictionary<string, string> Specials = new() { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };

    sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2024, 7, 26, 9, 5, 3, TimeSpan.Zero);
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }

    static readonly TemplateOptions Options = new() { Clock = new FixedClock() };

    /// <summary>Renders every case with Python's Jinja2; each result is the text or the error message.</summary>
    static List<(string? Text, string? Error)> Reference(IReadOnlyList<(string Template, Dictionary<string, object?> Vars)> cases)
    {
        Requires.Python("jinja2");
        using var temp = new TempDirectory("tessera-jinja-");
        string input = Path.Combine(temp.Path, "cases.json"), output = Path.Combine(temp.Path, "out.json");
        File.WriteAllText(input, JsonSerializer.Serialize(new { cases = cases.Select(c => new { template = c.Template, vars = c.Vars }) }));
        ReferencePython.Run(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "jinja_reference.py")), input, output);
        return [.. JsonNode.Parse(File.ReadAllText(output))!.AsArray().Select(r => ((string?)r!["ok"], (string?)r["error"]))];
    }

    static Dictionary<string, object?> Vars(object[] messages, bool addGenerationPrompt, object? tools = null)
    {
        var vars = new Dictionary<string, object?>
        {
            ["messages"] = JsonSerializer.SerializeToElement(messages),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["tools"] = tools is null ? null : JsonSerializer.SerializeToElement(tools),
            ["documents"] = null,
        };
        foreach (var (k, v) in Specials) vars[k] = v;
        return vars;
    }

    [Fact]
    public void Real_world_templates_render_byte_identical_to_Python_Jinja2()
    {
        var tools = new object[] { new { type = "function", function = new { name = "get_weather", description = "Weather now", parameters = new { type = "object", properties = new { city = new { type = "string" } }, required = new[] { "city" } } } } };
        var cases = new List<(string Name, string Template, Dictionary<string, object?> Vars)>();
        foreach (var (name, template) in new[] { ("chatml", ChatMl), ("llama2", Llama2), ("zephyr", Zephyr), ("namespace", Namespaced), ("llama3", Llama3), ("features", Features) })
        {
            cases.Add((name + "/system+gen", template, Vars(Conversation, true)));
            cases.Add((name + "/nosystem", template, Vars(WithoutSystem, false)));
            cases.Add((name + "/tools", template, Vars(WithoutSystem, true, tools)));
            cases.Add((name + "/not-alternating", template, Vars(NotAlternating, true)));
        }
        var expected = Reference([.. cases.Select(c => (c.Template, c.Vars))]);
        int errors = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            var (name, template, vars) = cases[i];
            var (text, error) = expected[i];
            var parsed = JinjaTemplate.Parse(template, "tokenizer_config.json", "chat_template", Options);
            if (error is not null)
            {
                errors++;
                var e = Assert.Throws<TemplateException>(() => parsed.Render(vars));
                Assert.True(e.Detail.Contains(error, StringComparison.Ordinal), $"{name}: Jinja2 raised '{error}', we raised '{e.Message}'");
                continue;
            }
            Assert.True(text == parsed.Render(vars), $"{name}: output differs from Jinja2\n--- jinja2:\n{text}\n--- tessera:\n{parsed.Render(vars)}");
        }
        Assert.Equal(1, errors); // only the Llama-2 template refuses the conversation whose roles do not alternate
    }

    [Fact]
    public void A_Qwen_style_tool_template_renders_tools_tool_calls_and_tool_results_byte_identical_to_Python_Jinja2()
    {
        var tools = new object[]
        {
            new { type = "function", function = new { name = "get_weather", description = "Current weather in a city", parameters = new { type = "object", properties = new { city = new { type = "string" }, unit = new { type = "string", @enum = new[] { "celsius", "fahrenheit" } } }, required = new[] { "city" } } } },
            new { type = "function", function = new { name = "get_time", description = "Local time (ISO 8601) — any zone", parameters = new { type = "object", properties = new { zone = new { type = "string" } } } } },
        };
        // The conversation as transformers takes it: tool call arguments are objects (OpenAI's JSON strings parsed).
        object[] conversation =
        [
            new { role = "system", content = "You are terse." },
            new { role = "user", content = "Weather and time in Paris?" },
            new
            {
                role = "assistant", content = "",
                tool_calls = new object[]
                {
                    new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = new { city = "Paris", unit = "celsius" } } },
                    new { id = "call_2", type = "function", function = new { name = "get_time", arguments = new { zone = "Europe/Paris" } } },
                },
            },
            new { role = "tool", tool_call_id = "call_1", content = "{\"temp\": 21, \"sky\": \"clear ☀\"}" },
            new { role = "tool", tool_call_id = "call_2", content = "14:05" },
            new { role = "assistant", content = "21°C and clear; it is 14:05." },
            new { role = "user", content = "And in Oslo?" },
            // A call without the function wrapper and with text before it, as some clients send.
            new { role = "assistant", content = "Checking.", tool_calls = new object[] { new { name = "get_weather", arguments = new { city = "Oslo" } } } },
            new { role = "tool", content = "{\"temp\": 3}" },
        ];
        object[] noSystem = [new { role = "user", content = "Hi" }];
        var cases = new List<(string Name, Dictionary<string, object?> Vars)>
        {
            ("tools", Vars(conversation, true, tools)),
            ("tools/no-system", Vars(noSystem, true, tools)),
            ("no-tools", Vars(conversation, false)),
            ("no-tools/no-system", Vars(noSystem, true)),
        };
        var expected = Reference([.. cases.Select(c => (ToolChatTemplates.QwenStyle, c.Vars))]);
        var parsed = JinjaTemplate.Parse(ToolChatTemplates.QwenStyle, "tokenizer_config.json", "chat_template 'tool_use'", Options);
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.True(expected[i].Error is null, $"{cases[i].Name}: Jinja2 failed: {expected[i].Error}");
            Assert.True(expected[i].Text == parsed.Render(cases[i].Vars), $"{cases[i].Name}: output differs from Jinja2\n--- jinja2:\n{expected[i].Text}\n--- tessera:\n{parsed.Render(cases[i].Vars)}");
        }
        // What the reference printed, spot-checked by hand: the tools as JSON lines, the calls with object arguments, the grouped results.
        Assert.Contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"", expected[0].Text);
        Assert.Contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>", expected[0].Text);
        Assert.Contains("<|im_start|>user\n<tool_response>\n{\"temp\": 21, \"sky\": \"clear ☀\"}\n</tool_response>\n<tool_response>\n14:05\n</tool_response><|im_end|>", expected[0].Text);
        Assert.EndsWith("<|im_start|>assistant\nChecking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 3}\n</tool_response><|im_end|>\n<|im_start|>assistant\n", expected[0].Text);
    }

    [Fact]
    public void Loads_the_string_field_the_named_list_and_chat_template_jinja_like_transformers()
    {
        using var temp = new TempDirectory("tessera-chat-template-");
        string Folder(string name, object config, string? jinja = null)
        {
            string folder = Path.Combine(temp.Path, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), JsonSerializer.Serialize(config));
            if (jinja is not null) File.WriteAllText(Path.Combine(folder, ChatTemplate.JinjaFileName), jinja);
            return folder;
        }
        var plain = Folder("plain", new { bos_token = "<s>", eos_token = new { content = "</s>" }, chat_template = Llama2 });
        var named = Folder("named", new { eos_token = "</s>", chat_template = new object[] { new { name = "default", template = ChatMl }, new { name = "tool_use", template = Namespaced } } });
        // Newer transformers save the template beside the config; the file's last newline is not part of the output.
        var file = Folder("file", new { bos_token = "<s>", eos_token = "</s>", chat_template = ChatMl }, Zephyr + "\n");
        var none = Folder("none", new { eos_token = "</s>" });

        var messages = new[] { new ChatMessage("user", "Hi there"), new ChatMessage("assistant", "Hello!"), new ChatMessage("user", "Bye") };
        var vars = Vars([.. messages.Select(m => (object)new { role = m.Role, content = m.Content })], true);
        var expected = Reference([(Llama2, vars), (ChatMl, vars), (Namespaced, vars), (Zephyr + "\n", vars)]);

        Assert.Equal(expected[0].Text, ChatTemplate.Load(plain)!.Render(messages));
        Assert.Equal(expected[1].Text, ChatTemplate.Load(named)!.Render(messages));
        Assert.Equal(expected[2].Text, ChatTemplate.Load(named, "tool_use")!.Render(messages));
        Assert.Equal(expected[3].Text, ChatTemplate.Load(file)!.Render(messages));
        Assert.Null(ChatTemplate.Load(none));
        Assert.Equal(["default", "tool_use"], ChatTemplate.TemplateNames(named));
        Assert.Empty(ChatTemplate.TemplateNames(plain));
        Assert.Empty(ChatTemplate.TemplateNames(none));
        var missing = Assert.Throws<Tessera.Formats.TesseraFormatException>(() => ChatTemplate.Load(named, "rag"));
        Assert.Contains("tokenizer_config.json", missing.Message);
        Assert.Contains("default, tool_use", missing.Message);
    }

    [Fact]
    public void Errors_name_the_file_the_template_and_the_line()
    {
        using var temp = new TempDirectory("tessera-chat-template-");
        File.WriteAllText(Path.Combine(temp.Path, "tokenizer_config.json"), JsonSerializer.Serialize(new { chat_template = "{% for m in messages %}\n{{ m.content }}\n{% if m.role %}\n{{ m.content | shout }}\n{% endif %}{% endfor %}" }));
        var e = Assert.Throws<TemplateException>(() => ChatTemplate.Load(temp.Path));
        Assert.Equal(Path.Combine(temp.Path, "tokenizer_config.json") + ": chat_template line 4: no filter named 'shout'", e.Message);

        e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("a\n{% if x %}\nb", "tokenizer_config.json", "chat_template"));
        Assert.StartsWith("tokenizer_config.json: chat_template line 3: unexpected end of template; expected", e.Message);
        e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ (1 + }}", "tokenizer_config.json", "chat_template"));
        Assert.Contains("line 1", e.Message);

        var template = JinjaTemplate.Parse("x\n\n{{ messages[0].content.missing.deeper }}", "tokenizer_config.json", "chat_template");
        e = Assert.Throws<TemplateException>(() => template.Render(new Dictionary<string, object?> { ["messages"] = new[] { new Dictionary<string, object?> { ["content"] = "hi" } } }));
        Assert.StartsWith("tokenizer_config.json: chat_template line 3: ", e.Message);
        Assert.False(e.RaisedByTemplate);

        e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("\n{{ raise_exception('roles must alternate') }}", "tokenizer_config.json", "chat_template").Render(new Dictionary<string, object?>()));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("tokenizer_config.json: chat_template line 2: the template raised an error: roles must alternate", e.Message);
    }

    [Fact]
    public void Hostile_templates_stop_at_the_limits_instead_of_hanging_or_crashing()
    {
        var options = new TemplateOptions { MaxSteps = 200_000, MaxOutputLength = 100_000, MaxDepth = 50, MaxTemplateLength = 100_000 };
        TemplateException Fails(string source) => Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source, "tokenizer_config.json", "chat_template", options).Render(new Dictionary<string, object?>()));

        Assert.Contains("steps", Fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").Message);
        Assert.Contains("range too big", Fails("{% for i in range(10**9) %}x{% endfor %}").Message);
        Assert.Contains("characters", Fails("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}").Message);
        Assert.Contains("characters", Fails("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}").Message);
        Assert.Contains("characters", Fails("{{ 'a' * 1000000000 }}").Message);
        Assert.Contains("nest deeper", Fails("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}").Message);
        Assert.Contains("nest deeper", Fails("{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 5000)) + " }}").Message);
        Assert.Contains("nest deeper", Fails(string.Concat(Enumerable.Repeat("{% if true %}", 5000))).Message);
        Assert.Contains("nest deeper", Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").Message);
        Assert.Contains("MaxTemplateLength", Fails(new string('x', 100_001)).Message);
        Assert.Contains("integer overflow", Fails("{{ 2 ** 100 }}").Message);
    }
}

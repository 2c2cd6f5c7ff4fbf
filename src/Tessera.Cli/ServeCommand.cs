using System.CommandLine;
using Tessera.Serving;
using Tessera.Text.Generation;
using Tessera.Transformers;

namespace Tessera.Cli;

static class ServeCommand
{
    public static Command Create()
    {
        var path = new Argument<string?>("path") { Description = "Model to serve, named after its folder (or file up to the first dot): a folder from tessera export with a tokenizer (text generation), an .onnx file or ONNX folder (KServe v2 inference), or a safetensors causal LM folder (TorchSharp)", Arity = ArgumentArity.ZeroOrOne };
        var models = new Option<string[]>("--model") { Description = "Another model as NAME=PATH (repeatable)", AllowMultipleArgumentsPerToken = false };
        var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one; the address is printed)", DefaultValueFactory = _ => 8080 };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding the API key clients must send as Authorization: Bearer KEY" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences decoded together per text model; most requests per classifier run", DefaultValueFactory = _ => 16 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most requests waiting per model; beyond it requests get 429 with Retry-After", DefaultValueFactory = _ => 64 };
        var batchWindow = new Option<double>("--batch-window-ms") { Description = "Classifiers: how long to gather requests into one run (0 = no dynamic batching)", DefaultValueFactory = _ => 2 };
        var maxTokens = new Option<int>("--max-tokens-cap") { Description = "Largest max_tokens a request may ask for", DefaultValueFactory = _ => 4096 };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body (413 beyond it)", DefaultValueFactory = _ => 4 * 1024 * 1024 };
        var drain = new Option<double>("--drain-timeout") { Description = "Seconds running requests may take to finish after SIGTERM", DefaultValueFactory = _ => 30 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads per model run (0 = one per core)", DefaultValueFactory = _ => 0 };
        var spinning = new Option<string>("--ort-spinning") { Description = "Whether ONNX Runtime's threads spin between runs (true) or sleep (false: leaves the cores to HTTP and the clients)", DefaultValueFactory = _ => "false", HelpName = "true|false" }.AcceptOnlyFromAmong("true", "false");
        var toolParser = new Option<string>("--tool-call-parser") { Description = "How chat replies to requests with tools are searched for tool calls: hermes (<tool_call>{\"name\", \"arguments\"}</tool_call>: Hermes 2 Pro, Qwen2.5, Qwen3), llama3_json (the whole reply is {\"name\", \"parameters\"}: Llama 3.1/3.2) or none", DefaultValueFactory = _ => "hermes" };
        toolParser.AcceptOnlyFromAmong("hermes", "llama3_json", "none");
        var quiet = new Option<bool>("--quiet") { Description = "No request log lines (one JSON line per request on stdout otherwise)" };
        var command = new Command("serve", "Serve models over HTTP: OpenAI-compatible /v1/completions and /v1/chat/completions with continuous batching, KServe v2 /v2/models/{name}/infer, Prometheus /metrics")
        {
            path, models, host, port, apiKeyFile, maxBatch, maxQueue, batchWindow, maxTokens, maxBody, drain, threads, spinning, toolParser, quiet,
        };
        // Synchronous on purpose: the server's host handles SIGTERM/Ctrl+C itself and drains before Run returns 0.
        command.SetAction(parse =>
        {
            var served = new List<ServedModel>();
            if (parse.GetValue(path) is string p) served.Add(new ServedModel(ServedModel.DefaultName(p), p));
            foreach (string spec in parse.GetValue(models) ?? [])
            {
                int eq = spec.IndexOf('=');
                if (eq <= 0 || eq == spec.Length - 1) throw new UsageException($"--model must be NAME=PATH (got {spec})");
                served.Add(new ServedModel(spec[..eq], spec[(eq + 1)..]));
            }
            if (served.Count == 0) throw new UsageException("give a model PATH or --model NAME=PATH");
            string? key = null;
            if (parse.GetValue(apiKeyFile) is string keyFile)
            {
                key = File.ReadAllText(keyFile).Trim();
                if (key.Length == 0) throw new UsageException($"--api-key-file {keyFile} is empty");
            }
            var output = parse.InvocationConfiguration.Output;
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = key,
                MaxBatch = parse.GetValue(maxBatch),
                MaxQueue = parse.GetValue(maxQueue),
                BatchWindow = TimeSpan.FromMilliseconds(parse.GetValue(batchWindow)),
                MaxTokensCap = parse.GetValue(maxTokens),
                MaxBodyBytes = parse.GetValue(maxBody),
                DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drain)),
                IntraOpThreads = parse.GetValue(threads),
                OrtSpinning = parse.GetValue(spinning) == "true",
                ToolCallFormat = parse.GetValue(toolParser) switch { "llama3_json" => ToolCallFormat.Llama3Json, "none" => ToolCallFormat.None, _ => ToolCallFormat.Hermes },
                RequestLog = parse.GetValue(quiet) ? null : output,
                FolderLoader = folder => new BackendServingDecoder(new TorchBackend(AutoModelForCausalLM.FromPretrained(folder))),
            };
            var server = new TesseraServer(options, served);
            try
            {
                server.RunAsync(address =>
                {
                    output.WriteLine($"serving {string.Join(", ", served.Select(m => m.Name))} on {address.ToString().TrimEnd('/')}");
                    output.Flush();
                }).GetAwaiter().GetResult();
            }
            catch (AggregateException e) when (e.InnerExceptions.Count == 1)
            {
                throw new TesseraException(e.InnerExceptions[0].Message, e.InnerExceptions[0]);
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            output.WriteLine("stopped");
            return 0;
        });
        return command;
    }

    /// <summary>A TorchSharp causal LM as a back end that owns (and disposes) the model.</summary>
    sealed class TorchBackend(CausalLanguageModel model) : ICausalLMBackend, IDisposable
    {
        readonly TorchCausalLM inner = new(model);
        public int VocabSize => inner.VocabSize;
        public int? MaxPositions => inner.MaxPositions;
        public SpecialTokenIds SpecialTokenIds => inner.SpecialTokenIds;
        public ICausalLMState Begin(int batchSize) => inner.Begin(batchSize);
        public void Dispose() => model.Dispose();
    }
}

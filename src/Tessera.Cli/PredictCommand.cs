using System.CommandLine;
using Tessera.Tasks;

namespace Tessera.Cli;

static class PredictCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder" };
        var image = new Argument<string>("image") { Description = "Image file (PNG, JPEG, ...)" };
        var top = new Option<int>("--top") { Description = "How many classes to print", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var command = new Command("predict", "Classify an image with a model folder; prints the top classes with probabilities") { modelDir, image, top };
        command.SetAction(parse =>
        {
            using var predictor = ImagePredictor.Load(parse.GetValue(modelDir)!);
            var output = parse.InvocationConfiguration.Output;
            foreach (var (label, p) in predictor.Predict(parse.GetValue(image)!, parse.GetValue(top)))
                output.WriteLine($"{label}: {p:0.0000}");
            return 0;
        });
        return command;
    }
}

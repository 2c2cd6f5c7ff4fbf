using System.CommandLine;
using Tessera.Tasks;

namespace Tessera.Cli;

static class PredictCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model") { Description = "Model folder, or an .onnx file / ONNX folder (run with ONNX Runtime)" };
        var image = new Argument<string>("image") { Description = "Image file (PNG, JPEG, ...)" };
        var top = new Option<int>("--top") { Description = "How many classes to print", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var command = new Command("predict", "Classify an image with a model folder; prints the top classes with probabilities") { modelDir, image, top };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(modelDir)!;
            var output = parse.InvocationConfiguration.Output;
            IReadOnlyList<(string Label, float Probability)> classes;
            if (OnnxPaths.IsOnnx(path))
            {
                using var onnx = Runtime.OnnxModel.Load(OnnxPaths.ModelFile(path));
                var pre = onnx.Preprocessing ?? throw new Runtime.OnnxModelException(path,
                    "no image preprocessing is known for this model (preprocessor_config.json beside it, or Tessera's export metadata)");
                classes = onnx.Classify(ImagePredictor.ReadPixels(parse.GetValue(image)!, pre), parse.GetValue(top));
            }
            else
            {
                using var predictor = ImagePredictor.Load(path);
                classes = predictor.Predict(parse.GetValue(image)!, parse.GetValue(top));
            }
            foreach (var (label, p) in classes)
                output.WriteLine($"{label}: {p:0.0000}");
            return 0;
        });
        return command;
    }
}

// Kapre.MLNet sample: audio classification with ML.NET and TorchSharp. With no arguments it trains on the bundled
// spoken words (Data/words), evaluates on voices it never heard, saves the model and predicts a few files.
// See Cli.Usage for the commands; the consumption code an app needs is in Consumption/AudioClassifierModel.cs.
return AudioClassification.Cli.Run(args, Console.Out);

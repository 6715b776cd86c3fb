// Kapre.MLNet web sample: serves a model made by the console sample (samples/AudioClassification) over HTTP, with a
// page that records or uploads audio. See WebSample.Usage for the options and ModelServer for the serving code.
return await AudioClassification.Web.WebSample.RunAsync(args, Console.Out);

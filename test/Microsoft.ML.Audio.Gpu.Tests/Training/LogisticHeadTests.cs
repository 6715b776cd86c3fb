using Microsoft.ML.Audio.Gpu.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// The frozen embedding's head (<see cref="LogisticHead"/>): against an independent minimiser of the same objective,
/// mean cross-entropy plus λ·‖W‖² on standardised features, written here as plain gradient descent in double precision.
/// </summary>
[TestClass]
public sealed class LogisticHeadTests
{
    private const int Rows = 90, Features = 6, Classes = 3;
    private const double Epsilon = 1e-5;

    /// <summary>Three overlapping clusters (so the optimum is finite without the penalty too) with features of very
    /// different scales and means (so standardisation matters).</summary>
    private static (float[] x, long[] y) Data()
    {
        var rng = new Random(3);
        var x = new float[Rows * Features];
        var y = new long[Rows];
        for (int i = 0; i < Rows; i++)
        {
            y[i] = i % Classes;
            for (int j = 0; j < Features; j++)
                x[i * Features + j] = (float)((j == y[i] ? 1.0 : 0.0) + rng.NextDouble() * 1.5 - 0.75) * (j + 1) * 10 + 100 * j;
        }
        return (x, y);
    }

    /// <summary>The objective at (W, b) on standardised rows.</summary>
    private static double Objective(double[][] z, long[] y, double[,] w, double[] b, double l2, double[,]? gw = null, double[]? gb = null)
    {
        double loss = 0;
        for (int i = 0; i < z.Length; i++)
        {
            var logits = new double[Classes];
            for (int c = 0; c < Classes; c++)
            {
                logits[c] = b[c];
                for (int j = 0; j < Features; j++) logits[c] += w[c, j] * z[i][j];
            }
            double max = logits.Max(), sum = logits.Sum(v => Math.Exp(v - max));
            loss += -(logits[y[i]] - max - Math.Log(sum)) / z.Length;
            if (gw is null) continue;
            for (int c = 0; c < Classes; c++)
            {
                double g = (Math.Exp(logits[c] - max) / sum - (c == y[i] ? 1 : 0)) / z.Length;
                gb![c] += g;
                for (int j = 0; j < Features; j++) gw[c, j] += g * z[i][j];
            }
        }
        for (int c = 0; c < Classes; c++)
            for (int j = 0; j < Features; j++)
            {
                loss += l2 * w[c, j] * w[c, j];
                if (gw is not null) gw[c, j] += 2 * l2 * w[c, j];
            }
        return loss;
    }

    [TestMethod]
    [DataRow(0.01)]
    [DataRow(0.1)]
    public void Fit_MinimisesThePenalisedCrossEntropy_LikeGradientDescent(double l2)
    {
        var (x, y) = Data();
        var fit = LogisticHead.Train(new MLContext(1), x, y, Features, Classes, l2, Epsilon);

        // Standardisation as a batch normalisation in evaluation mode applies it: (x - mean) / sqrt(var + eps).
        var mean = Enumerable.Range(0, Features).Select(j => Enumerable.Range(0, Rows).Average(i => (double)x[i * Features + j])).ToArray();
        var variance = Enumerable.Range(0, Features).Select(j => Enumerable.Range(0, Rows).Average(i => Math.Pow(x[i * Features + j] - mean[j], 2))).ToArray();
        for (int j = 0; j < Features; j++)
        {
            Assert.AreEqual(mean[j], fit.Mean[j], 1e-3 * Math.Abs(mean[j]) + 1e-4, $"mean {j}");
            Assert.AreEqual(variance[j], fit.Variance[j], 1e-3 * variance[j], $"variance {j}");
        }
        var z = Enumerable.Range(0, Rows).Select(i => Enumerable.Range(0, Features).Select(j => (x[i * Features + j] - mean[j]) / Math.Sqrt(variance[j] + Epsilon)).ToArray()).ToArray();

        // The reference: 20,000 steps of gradient descent from zero (the objective is smooth and strongly convex).
        var w = new double[Classes, Features];
        var b = new double[Classes];
        for (int step = 0; step < 20000; step++)
        {
            var gw = new double[Classes, Features];
            var gb = new double[Classes];
            Objective(z, y, w, b, l2, gw, gb);
            for (int c = 0; c < Classes; c++)
            {
                b[c] -= 0.5 * gb[c];
                for (int j = 0; j < Features; j++) w[c, j] -= 0.5 * gw[c, j];
            }
        }
        var fw = new double[Classes, Features];
        for (int c = 0; c < Classes; c++)
            for (int j = 0; j < Features; j++) fw[c, j] = fit.Weights[c * Features + j];
        double ours = Objective(z, y, fw, [.. fit.Biases.Select(v => (double)v)], l2), reference = Objective(z, y, w, b, l2);
        Console.WriteLine($"λ {l2}: objective {ours:F6} (L-BFGS) vs {reference:F6} (gradient descent)");
        Assert.AreEqual(reference, ours, 1e-4, "the same minimum");
        for (int c = 0; c < Classes; c++)
            for (int j = 0; j < Features; j++)
                Assert.AreEqual(w[c, j], fw[c, j], 2e-2, $"weight [{c}, {j}]");
    }
}

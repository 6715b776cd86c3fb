using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// TorchSharp's AdamW with every Scalar of its step held for the length of the native call.
/// </summary>
/// <remarks>
/// TorchSharp's <c>AdamW.step</c> converts about nine numbers per parameter to temporary Scalars that nothing keeps
/// alive; a garbage collection during the call frees one while libtorch reads it. This step does the same operations
/// in the same order with the same values (the numbers are identical to TorchSharp's, which the tests check), the
/// Scalars in <c>using</c> locals. The state, options, parameter groups and learning-rate schedulers are TorchSharp's.
/// </remarks>
internal sealed class HeldScalarAdamW : AdamW
{
    public HeldScalarAdamW(IEnumerable<Parameter> parameters, double lr, double weight_decay, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr: lr, weight_decay: weight_decay, amsgrad: amsgrad, maximize: maximize)
    {
    }

    /// <summary>Parameter groups with their own learning rates (a fine-tuned backbone and a new head).</summary>
    public HeldScalarAdamW(IEnumerable<ParamGroup> groups, double lr, double weight_decay)
        : base(groups, lr: lr, weight_decay: weight_decay)
    {
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weight_decay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using var decay = (1 - lr * weight_decay).ToScalar();
            using var beta1Scalar = beta1.ToScalar();
            using var oneMinusBeta1 = (1 - beta1).ToScalar();
            using var beta2Scalar = beta2.ToScalar();
            using var oneMinusBeta2 = (1 - beta2).ToScalar();
            using var epsScalar = eps.ToScalar();
            using var one = 1.ToScalar();

            foreach (var param in group.Parameters)
            {
                // The temporaries (the gradient's wrapper, denom) are the scope's, so no collection frees one mid-call.
                using var scope = NewDisposeScope();
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = grad.neg();
                state.step += 1;

                param.mul_(decay);
                double bias_correction1 = 1 - Math.Pow(beta1, state.step);
                double bias_correction2 = 1 - Math.Pow(beta2, state.step);

                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad, oneMinusBeta2);

                using var correction2 = Math.Sqrt(bias_correction2).ToScalar();
                Tensor denom;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denom = state.max_exp_avg_sq.sqrt().div(correction2).add_(epsScalar, one);
                }
                else
                {
                    denom = state.exp_avg_sq.sqrt().div(correction2).add_(epsScalar, one);
                }

                using var stepSize = (-(lr / bias_correction1)).ToScalar();
                param.addcdiv_(state.exp_avg, denom, stepSize);
            }
        }, closure);
    }
}

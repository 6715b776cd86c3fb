// The microphone's samples, mono, at the rate the page asks for (16 kHz, the model's), in blocks of a tenth of a
// second, each with its RMS level: an AudioWorklet (page.js loads it), so capture runs on the audio thread and never
// waits for the page. The page asks its AudioContext for 16 kHz, and the browser resamples the microphone itself;
// where it cannot, the context runs at the device's rate and this worklet resamples (a box filter as wide as the
// rate ratio, against aliasing, then linear interpolation).
"use strict";

registerProcessor("capture", class extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.target = options.processorOptions.sampleRate;
    this.step = sampleRate / this.target;      // input samples per output sample (sampleRate: the context's)
    this.block = new Float32Array(Math.round(this.target / 10));
    this.filled = 0;
    this.position = 0;                          // where the next output sample falls, in input samples from history[0]
    this.history = new Float32Array(0);
  }

  emit(value) {
    this.block[this.filled++] = value;
    if (this.filled === this.block.length) {
      let energy = 0;
      for (const x of this.block) energy += x * x;
      this.port.postMessage({ samples: this.block, rms: Math.sqrt(energy / this.block.length) });
      this.block = new Float32Array(this.block.length);
      this.filled = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const x = input[0];
    if (this.step === 1) {
      for (let i = 0; i < x.length; i++) this.emit(x[i]);
      return true;
    }
    // Resampling: the samples not yet used are kept, joined to the new ones.
    const all = new Float32Array(this.history.length + x.length);
    all.set(this.history);
    all.set(x, this.history.length);
    const half = Math.max(0, Math.floor(this.step / 2));
    while (this.position + half + 1 < all.length) {
      const at = Math.floor(this.position), frac = this.position - at;
      const mean = i => {
        let sum = 0, n = 0;
        for (let k = Math.max(0, i - half); k <= i + half; k++, n++) sum += all[k];
        return sum / n;
      };
      this.emit(mean(at) * (1 - frac) + mean(at + 1) * frac);
      this.position += this.step;
    }
    const keep = Math.max(0, Math.floor(this.position) - half);
    this.history = all.slice(keep);
    this.position -= keep;
    return true;
  }
});

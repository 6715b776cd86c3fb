"use strict";
// The web sample's page: classify a clip, listen live, teach new words. Its state is on <body>, for people and for the
// browser tests: data-mode (classify, live, teach), data-state (the clip: idle, recording, working, done, error),
// data-live (off, connecting, listening, ending, error), data-heard (seconds of audio the server has heard) and
// data-training (idle, training, done, error). Events on document: "kapre:done" (a clip's label or error),
// "kapre:detection" (a live detection), "kapre:trained" (a model's id, or an error).
const $ = id => document.getElementById(id);
const ModelRate = 16000;        // what the server's models hear; the page resamples the microphone to it
const MaxRecordSeconds = 3;     // a clip to classify
const ExampleSeconds = 2;       // a teach-mode example: room to click and say the word once
const BackgroundSeconds = 5;    // a teach-mode background recording; the server cuts it into clips
const Background = "_background_";

async function errorOf(response) {
  try { return (await response.json()).error; } catch { return `${response.status} ${response.statusText}`; }
}

function setStatus(element, message, isError) {
  element.textContent = message;
  element.classList.toggle("error", !!isError);
}

// ---------------------------------------------------------------------------------------------------------------------
// The model: the start-up one (id null), or one trained or uploaded here (its id in the address, ?model=ID).
let model = { id: null, classes: [], name: "" };

function modelQuery() { return model.id ? `?model=${encodeURIComponent(model.id)}` : ""; }

function useModel(id, classes, name) {
  model = { id, classes, name };
  const words = classes.filter(c => !c.startsWith("_"));
  $("model").textContent = id
    ? `Model ${id} (${name}): ${words.length} words (${words.join(", ")})${words.length < classes.length ? " and background" : ""}.`
    : `Model ${name}: ${classes.length} classes (${classes.join(", ")}).`;
  for (const [link, extension] of [[$("download-zip"), "zip"], [$("download-onnx"), "onnx"]]) {
    link.hidden = !id;
    if (id) { link.href = `models/${id}.${extension}`; link.download = `kapre-model-${id}.${extension}`; }
  }
  $("use-startup").hidden = !id;
  const address = new URL(location.href);
  if (id) address.searchParams.set("model", id); else address.searchParams.delete("model");
  history.replaceState(null, "", address);
}

async function useStartupModel() {
  try {
    const health = await (await fetch("health")).json();
    useModel(null, health.classes, health.model);
  } catch {
    $("model").textContent = "The server does not answer /health.";
  }
}

async function loadModelFromAddress() {
  const id = new URLSearchParams(location.search).get("model");
  if (!id) return useStartupModel();
  const response = await fetch(`models/${encodeURIComponent(id)}`);
  if (response.ok) {
    const info = await response.json();
    return useModel(info.model, info.classes, "kept on the server");
  }
  await useStartupModel();
  $("model").textContent = `${await errorOf(response)} Using the start-up model.`;
}

$("use-startup").addEventListener("click", () => { stopLive(); useStartupModel(); });

$("model-file").addEventListener("change", async () => {
  const file = $("model-file").files[0];
  if (!file) return;
  $("model").textContent = `Loading ${file.name}\u2026`;
  const response = await fetch("models", { method: "POST", body: file, headers: { "Content-Type": "application/zip" } });
  $("model-file").value = "";
  if (!response.ok) { $("model").textContent = await errorOf(response); return; }
  stopLive();
  const answer = await response.json();
  useModel(answer.model, answer.classes, `loaded from ${file.name}`);
});

// ---------------------------------------------------------------------------------------------------------------------
// Modes.
function setMode(mode) {
  document.body.dataset.mode = mode;
  for (const section of document.querySelectorAll("section[data-mode]")) section.hidden = section.dataset.mode !== mode;
  for (const tab of document.querySelectorAll("nav button")) tab.setAttribute("aria-selected", String(tab.dataset.mode === mode));
  if (mode !== "live") stopLive();
  if (location.hash !== "#" + mode) history.replaceState(null, "", "#" + mode);
}
for (const tab of document.querySelectorAll("nav button")) tab.addEventListener("click", () => setMode(tab.dataset.mode));

// ---------------------------------------------------------------------------------------------------------------------
// The microphone: mono at 16 kHz through an AudioWorklet (capture.js), in blocks of 0.1 s with their level.
// Browsers allow the microphone on https or on localhost.
async function openMicrophone(onBlock) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  let context;
  try {
    let source;
    try {
      // The browser resamples the microphone to the context's rate: a 16 kHz context hands the model's rate over.
      context = new AudioContext({ sampleRate: ModelRate });
      source = context.createMediaStreamSource(stream);
    } catch {
      // A browser that cannot mix rates: the device's rate, and capture.js resamples.
      if (context) await context.close();
      context = new AudioContext();
      source = context.createMediaStreamSource(stream);
    }
    await context.audioWorklet.addModule("capture.js");
    const node = new AudioWorkletNode(context, "capture", { processorOptions: { sampleRate: ModelRate } });
    node.port.onmessage = e => onBlock(e.data.samples, e.data.rms);
    source.connect(node);
    return {
      close: async () => {
        node.port.onmessage = null;
        stream.getTracks().forEach(t => t.stop());
        await context.close();
      },
    };
  } catch (e) {
    stream.getTracks().forEach(t => t.stop());
    if (context) await context.close();
    throw e;
  }
}

// Records up to maxSeconds (stop() ends it sooner); done resolves with the samples.
async function startRecording(maxSeconds, onProgress) {
  const blocks = [], limit = Math.round(maxSeconds * ModelRate);
  let count = 0, stopped = false, finish;
  const done = new Promise(resolve => { finish = resolve; });
  const recording = {
    done,
    stop: async () => {
      if (stopped) return done;
      stopped = true;
      await microphone.close();
      const samples = new Float32Array(Math.min(count, limit));
      let offset = 0;
      for (const block of blocks) {
        const part = block.subarray(0, Math.min(block.length, samples.length - offset));
        samples.set(part, offset);
        offset += part.length;
      }
      finish(samples);
      return done;
    },
  };
  const microphone = await openMicrophone((block, rms) => {
    if (stopped) return;
    blocks.push(block);
    count += block.length;
    if (onProgress) onProgress(Math.min(1, count / limit), rms);
    if (count >= limit) recording.stop();
  });
  return recording;
}

// RIFF/WAVE, PCM 16-bit, mono: 44 bytes of header, then the samples, clipped to [-1, 1].
function encodeWav(samples, sampleRate) {
  const view = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * samples.length, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true); view.setUint32(28, 2 * sampleRate, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, 2 * samples.length, true);
  for (let i = 0; i < samples.length; i++) view.setInt16(44 + 2 * i, toInt16(samples[i]), true);
  return new Blob([view.buffer], { type: "audio/wav" });
}

function toInt16(x) {
  const s = Math.max(-1, Math.min(1, x));
  return s < 0 ? s * 0x8000 : s * 0x7FFF;
}

// ---------------------------------------------------------------------------------------------------------------------
// Classify a clip: a recording or a file, sent to /predict (and /spectrogram).
function setState(state, message, isError) {
  document.body.dataset.state = state;
  setStatus($("status"), message, isError);
}
setState("idle", $("status").textContent);

async function classify(blob, name) {
  setState("working", `Classifying ${name}\u2026`);
  const form = () => { const f = new FormData(); f.append("file", blob, name); return f; };
  try {
    const [prediction, spectrogram] = await Promise.all([
      fetch("predict" + modelQuery(), { method: "POST", body: form() }),
      fetch("spectrogram", { method: "POST", body: form() }),
    ]);
    if (!prediction.ok) throw new Error(await errorOf(prediction));
    if (!spectrogram.ok) throw new Error(await errorOf(spectrogram));
    const result = await prediction.json();
    showScores(result);
    const image = $("spectrogram");
    const loaded = new Promise((resolve, reject) => { image.onload = resolve; image.onerror = () => reject(new Error("The spectrogram image is unreadable.")); });
    if (image.src) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(await spectrogram.blob());
    await loaded;
    setState("done", `${name}: ${result.label}, ${(100 * result.scores[result.label]).toFixed(1)} % (${result.milliseconds.toFixed(1)} ms on the server).`);
    document.dispatchEvent(new CustomEvent("kapre:done", { detail: result.label }));
  } catch (e) {
    $("label").textContent = "";
    $("scores").replaceChildren();
    setState("error", e.message, true);
    document.dispatchEvent(new CustomEvent("kapre:done", { detail: "error: " + e.message }));
  }
}

function showScores(result) {
  $("label").textContent = result.label;
  const rows = Object.entries(result.scores).sort((a, b) => b[1] - a[1]).map(([name, p]) => {
    const row = document.createElement("div");
    row.className = "bar" + (name === result.label ? " top" : "");
    const label = document.createElement("span"); label.textContent = name;
    const track = document.createElement("div"); track.className = "track";
    const fill = document.createElement("div"); fill.className = "fill"; fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span"); value.className = "value"; value.textContent = `${(100 * p).toFixed(1)} %`;
    row.append(label, track, value);
    return row;
  });
  $("scores").replaceChildren(...rows);
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (!file) return;
  $("playback").src = URL.createObjectURL(file);
  $("playback").hidden = false;
  classify(file, file.name);
});

let clipRecording = null;
$("record").addEventListener("click", async () => {
  if (clipRecording) return clipRecording.stop();
  try {
    clipRecording = await startRecording(MaxRecordSeconds);
  } catch (e) {
    return setState("error", `The microphone is not available: ${e.message}`, true);
  }
  $("record").classList.add("recording");
  $("record").textContent = "\u25A0 Stop";
  setState("recording", `Recording (up to ${MaxRecordSeconds} s)\u2026`);
  const samples = await clipRecording.done;
  clipRecording = null;
  $("record").classList.remove("recording");
  $("record").innerHTML = "&#9679; Record";
  const wav = encodeWav(samples, ModelRate);
  $("playback").src = URL.createObjectURL(wav);
  $("playback").hidden = false;
  classify(wav, "recording.wav");
});

// ---------------------------------------------------------------------------------------------------------------------
// Live: the microphone streams to /listen (a WebSocket: 16-bit PCM at 16 kHz, 0.1 s a message); the server answers
// with a JSON message for each word as soon as the word ends.
let live = null;

function setLive(state, message, isError) {
  document.body.dataset.live = state;
  setStatus($("live-status"), message, isError);
  const listening = state === "connecting" || state === "listening";
  $("listen").innerHTML = listening ? "&#9632; Stop" : "&#9679; Start listening";
  $("listen").classList.toggle("recording", listening);
}

$("listen").addEventListener("click", () => (live ? stopLive() : startLive()));

function startLive() {
  if (live) return;
  const address = new URL("listen" + modelQuery(), location.href);
  address.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(address);
  socket.binaryType = "arraybuffer";
  live = { socket, microphone: null, stopping: false };
  document.body.dataset.heard = "0";
  setLive("connecting", "Connecting to the server\u2026");
  const stream = live;
  socket.onmessage = e => onLiveMessage(stream, JSON.parse(e.data));
  socket.onclose = e => onLiveClosed(stream, e);
}

async function onLiveMessage(stream, message) {
  switch (message.type) {
    case "ready":
      $("listening-for").textContent = `Listening for ${message.classes.join(", ")}: windows of ${message.windowSeconds} s every ${message.hopSeconds} s.`;
      try {
        stream.microphone = await openMicrophone((block, rms) => {
          $("level").style.width = `${Math.min(100, 100 * Math.sqrt(rms) * 2).toFixed(0)}%`;
          if (stream.socket.readyState !== WebSocket.OPEN || stream.stopping) return;
          const pcm = new Int16Array(block.length);
          for (let i = 0; i < block.length; i++) pcm[i] = toInt16(block[i]);
          stream.socket.send(pcm.buffer);
        });
      } catch (e) {
        stream.failed = `The microphone is not available: ${e.message}`;
        stream.socket.close(1000, "no microphone");
        return;
      }
      if (stream.stopping) return stream.microphone.close();
      setLive("listening", `Listening with the ${model.id ? "model " + model.id : "start-up model"}\u2026`);
      break;
    case "detection":
      showDetection(message);
      break;
    case "heard":
      document.body.dataset.heard = String(message.seconds);
      if (!stream.stopping) setLive("listening", `Listening\u2026 ${message.seconds.toFixed(0)} s heard, ${(100 * message.computeSeconds / message.seconds).toFixed(1)} % of it spent scoring.`);
      break;
    case "end":
      stream.summary = `Stopped after ${message.seconds.toFixed(1)} s: ${message.detections} word(s) heard.`;
      break;
  }
}

function onLiveClosed(stream, event) {
  if (stream.microphone) stream.microphone.close();
  if (live === stream) live = null;
  $("level").style.width = "0";
  if (stream.failed) return setLive("error", stream.failed, true);
  if (event.code === 1000 && stream.stopping) return setLive("off", stream.summary || "Stopped.");
  // A refused upgrade (unknown model, too many streams) reaches the page only as code 1006, without the server's reason.
  const reason = event.reason || (event.code === 1006 ? "the server refused or dropped the stream (busy, or the model is gone)" : `code ${event.code}`);
  setLive("error", `The stream closed: ${reason}.`, true);
}

function stopLive() {
  const stream = live;
  if (!stream || stream.stopping) return;
  stream.stopping = true;
  setLive("ending", "Stopping\u2026");
  if (stream.microphone) stream.microphone.close();
  // The server scores what it still holds, sends the last words and closes.
  if (stream.socket.readyState === WebSocket.OPEN) stream.socket.send("end");
  else stream.socket.close();
}

let fading = null;
function showDetection(d) {
  const item = document.createElement("li");
  item.dataset.label = d.label;
  item.dataset.start = d.start;
  item.dataset.end = d.end;
  const word = document.createElement("span"); word.className = "word"; word.textContent = d.label;
  const score = document.createElement("span"); score.textContent = `${(100 * d.score).toFixed(0)} %`;
  const time = document.createElement("span"); time.textContent = `${d.start.toFixed(2)}\u2013${d.end.toFixed(2)} s`;
  item.append(word, score, time);
  $("detections").prepend(item);
  $("heard").textContent = d.label;
  $("heard").classList.remove("old");
  clearTimeout(fading);
  fading = setTimeout(() => $("heard").classList.add("old"), 1500);
  document.dispatchEvent(new CustomEvent("kapre:detection", { detail: d }));
}

// ---------------------------------------------------------------------------------------------------------------------
// Teach: words (and a background) with their examples; Train sends them to /train and follows its progress.
const classes = [];
let nextClass = 0;

function addClass(background) {
  const entry = { key: nextClass++, background, name: background ? Background : "", examples: [] };
  classes.push(entry);
  renderClasses();
  return entry;
}

function labelOf(entry) { return entry.background ? Background : entry.name.trim(); }

function renderClasses() {
  $("classes").replaceChildren(...classes.map(renderClass));
  updateTrainButton();
}

function renderClass(entry) {
  const card = document.createElement("div");
  card.className = "class-card" + (entry.background ? " background" : "");
  card.dataset.key = entry.key;
  const header = document.createElement("header");
  if (entry.background) {
    const title = document.createElement("span"); title.className = "title"; title.textContent = "Background";
    header.append(title);
  } else {
    const name = document.createElement("input");
    name.className = "class-name";
    name.placeholder = `word ${classes.filter(c => !c.background).indexOf(entry) + 1}`;
    name.value = entry.name;
    name.maxLength = 64;
    name.addEventListener("input", () => { entry.name = name.value; updateTrainButton(); });
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "remove-class"; remove.title = "Remove this word"; remove.textContent = "\u00D7";
    remove.addEventListener("click", () => { classes.splice(classes.indexOf(entry), 1); renderClasses(); });
    header.append(name, remove);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  const record = document.createElement("button");
  record.type = "button"; record.className = "record-example";
  const seconds = entry.background ? BackgroundSeconds : ExampleSeconds;
  record.innerHTML = entry.background ? `&#9679; Record ${seconds} s of background` : "&#9679; Record an example";
  record.addEventListener("click", () => recordExample(entry, record, seconds));
  const files = document.createElement("label");
  files.className = "files";
  files.textContent = "Add files\u2026";
  const input = document.createElement("input");
  input.type = "file"; input.multiple = true; input.accept = "audio/*,.wav,.flac,.mp3,.ogg,.opus,.aiff";
  input.addEventListener("change", () => {
    for (const file of input.files) entry.examples.push({ blob: file, name: file.name, seconds: null });
    input.value = "";
    renderClasses();
  });
  files.append(input);
  actions.append(record, files);
  const count = document.createElement("div");
  count.className = "count";
  count.textContent = entry.background
    ? `${entry.examples.length} recording(s) of the room without words: cut into clips for training.`
    : `${entry.examples.length} example(s)`;
  const examples = document.createElement("div");
  examples.className = "examples";
  entry.examples.forEach((example, i) => {
    const chip = document.createElement("span");
    chip.className = "example";
    const play = document.createElement("button");
    play.type = "button"; play.title = `Play ${example.name}`;
    play.textContent = `\u25B6 ${i + 1}${example.seconds ? ` (${example.seconds.toFixed(1)} s)` : ""}`;
    play.addEventListener("click", () => new Audio(URL.createObjectURL(example.blob)).play());
    const remove = document.createElement("button");
    remove.type = "button"; remove.title = "Remove this example"; remove.textContent = "\u00D7";
    remove.addEventListener("click", () => { entry.examples.splice(i, 1); renderClasses(); });
    chip.append(play, remove);
    examples.append(chip);
  });
  card.append(header, actions, count, examples);
  return card;
}

async function recordExample(entry, button, seconds) {
  if (document.body.dataset.recording) return;
  let recording;
  try {
    recording = await startRecording(seconds, fraction => {
      button.textContent = `\u25CF Recording\u2026 ${(seconds * (1 - fraction)).toFixed(1)} s`;
    });
  } catch (e) {
    return setStatus($("teach-status"), `The microphone is not available: ${e.message}`, true);
  }
  document.body.dataset.recording = "true";
  button.classList.add("recording");
  const samples = await recording.done;
  delete document.body.dataset.recording;
  const label = labelOf(entry) || "word";
  entry.examples.push({ blob: encodeWav(samples, ModelRate), name: `${label}-${entry.examples.length + 1}.wav`, seconds: samples.length / ModelRate });
  renderClasses();
}

// Why the examples cannot train yet, or null.
function teachProblem() {
  const words = classes.filter(c => !c.background);
  const names = words.map(labelOf);
  if (names.some(n => !n)) return "Name every word (or remove it).";
  if (names.some(n => n.startsWith("_"))) return "A word's name cannot start with '_': such classes are background, never reported.";
  if (new Set(names).size !== names.length) return "Two words have the same name.";
  const empty = words.find(c => c.examples.length === 0);
  if (empty) return `Add examples of '${labelOf(empty)}'.`;
  const used = classes.filter(c => c.examples.length > 0);
  if (words.length === 0 || used.length < 2) return "Teach at least one word and a background, or two words.";
  return null;
}

function updateTrainButton() {
  const problem = teachProblem();
  $("train").disabled = !!problem || document.body.dataset.training === "training";
  if (document.body.dataset.training !== "training")
    setStatus($("teach-status"), problem ?? "Ready to train.", false);
}

function setTraining(state, message, progress, isError) {
  document.body.dataset.training = state;
  setStatus($("teach-status"), message, isError);
  if (progress === null) $("train-progress").removeAttribute("value");
  else $("train-progress").value = progress;
  $("train").disabled = state === "training";
}

// The server's stages, with the share of the bar each has reached.
const Stages = {
  waiting: [0.1, () => "Waiting for another training to finish\u2026"],
  embedding: [0.2, n => `Embedding ${n} clips with the pretrained speech embedding\u2026`],
  fitting: [0.8, () => "Fitting the classifier\u2026"],
  saving: [0.9, () => "Saving the model\u2026"],
  loading: [0.95, () => "Loading the model for listening\u2026"],
};

$("train").addEventListener("click", train);
$("add-class").addEventListener("click", () => addClass(false));

async function train() {
  if (teachProblem()) return updateTrainButton();
  stopLive();
  const form = new FormData();
  let count = 0;
  for (const entry of classes)
    for (const example of entry.examples) { form.append(labelOf(entry), example.blob, example.name); count++; }
  const started = performance.now();
  let stage = `Uploading ${count} examples\u2026`;
  setTraining("training", stage, 0.05);
  const clock = setInterval(() => setStatus($("teach-status"), `${stage} ${((performance.now() - started) / 1000).toFixed(1)} s`), 100);
  try {
    const response = await fetch("train", { method: "POST", body: form, headers: { Accept: "application/x-ndjson" } });
    if (!response.ok) throw new Error(await errorOf(response));
    // One JSON object per line: the stages, then the answer (or an error).
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "", answer = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = JSON.parse(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if (line.error) throw new Error(line.error);
        if (line.model) answer = line;
        else if (Stages[line.stage]) {
          const [share, text] = Stages[line.stage];
          stage = text(line.clips);
          $("train-progress").value = share;
        }
      }
    }
    if (!answer) throw new Error("The server ended the training without an answer.");
    clearInterval(clock);
    const words = answer.classes.filter(c => !c.startsWith("_"));
    setTraining("done", `Model ${answer.model} trained on ${Object.values(answer.examples).reduce((a, b) => a + b, 0)} clips in ` +
      `${(answer.milliseconds / 1000).toFixed(1)} s: ${words.join(", ")}${words.length < answer.classes.length ? " and background" : ""}. ` +
      "Listening with it now.", 1);
    useModel(answer.model, answer.classes, "taught here");
    document.dispatchEvent(new CustomEvent("kapre:trained", { detail: answer.model }));
    setMode("live");
    startLive();
  } catch (e) {
    clearInterval(clock);
    setTraining("error", `Training failed: ${e.message}`, null, true);
    document.dispatchEvent(new CustomEvent("kapre:trained", { detail: "error: " + e.message }));
  }
}

// ---------------------------------------------------------------------------------------------------------------------
addClass(false);
addClass(false);
addClass(true);
loadModelFromAddress();
const initial = location.hash.slice(1);
setMode(["classify", "live", "teach"].includes(initial) ? initial : "classify");

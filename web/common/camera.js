// The terminal's camera: a live preview and JPEG frames grabbed from it.
import { t } from './strings.js';

export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error(t('camera.unavailable'));
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
  });
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play();
  if (!video.videoWidth) await new Promise((r) => video.addEventListener('loadeddata', r, { once: true }));
  return stream;
}

const canvas = document.createElement('canvas');

export function grabJpeg(video, quality = 0.85) {
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('no frame'))), 'image/jpeg', quality));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// n frames, one every intervalMs (the server's sequence liveness reads the interval).
export async function captureBurst(video, n = 8, intervalMs = 125) {
  const frames = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    frames.push(await grabJpeg(video));
    if (i + 1 < n) await sleep(Math.max(0, intervalMs - (performance.now() - started)));
  }
  return frames;
}

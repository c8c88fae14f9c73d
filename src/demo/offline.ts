import { $ } from './dom.js';

/**
 * Registers the service worker of a production build (the dev server has none) and says whether
 * the page will open without a network.
 */
export function setupOffline(): void {
  const status = $('offline-status');
  if (!import.meta.env.PROD) {
    status.textContent = 'Development server: offline mode is only in the built site (npm start).';
    return;
  }
  if (!('serviceWorker' in navigator)) {
    status.textContent = 'This browser has no service workers: the page needs the network to open.';
    return;
  }
  const controlled = navigator.serviceWorker.controller !== null;
  if (!navigator.onLine && controlled) {
    status.textContent = 'Offline: this page and the model came from this device.';
  }
  navigator.serviceWorker
    .register(new URL('sw.js', document.baseURI), { scope: './' })
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      if (navigator.onLine || !controlled) {
        status.textContent = 'Works offline: the site is cached, and the model stays in IndexedDB after its first load.';
      }
    })
    .catch((err: unknown) => {
      status.textContent = `Offline mode unavailable: ${(err as Error).message}`;
    });
}

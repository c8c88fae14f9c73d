/// <reference lib="webworker" />
/**
 * The playground's service worker: makes the site open offline after one visit. The build
 * (vite.config.ts) replaces __PRECACHE__ with every file it emitted, so a new build is a new
 * worker with a new cache. Model shards are not cached here: the model store keeps them in
 * IndexedDB, and caching them twice would double the storage a visitor gives the site. Lexicons
 * (public/lexicons, copied as they are, without hashes in their names) are kept as fetched, so
 * an offline visit still translates query words.
 */
declare const self: ServiceWorkerGlobalScope;
declare const __PRECACHE__: string[];

const FILES = __PRECACHE__;
const CACHE = `m3web-playground-${hash(FILES.join('\n'))}`;
const SCOPE = new URL(self.registration.scope);

function hash(text: string): string {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(36);
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(FILES.map((f) => new URL(f, SCOPE).href));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('m3web-playground-') && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

const isModelFile = (url: URL) => url.pathname.startsWith(`${SCOPE.pathname}models/`);
const isLexicon = (url: URL) => url.pathname.startsWith(`${SCOPE.pathname}lexicons/`);

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== SCOPE.origin || isModelFile(url)) return;
  if (event.request.mode === 'navigate') event.respondWith(networkFirst(event.request, SCOPE.href));
  else event.respondWith(isLexicon(url) ? networkFirst(event.request, url.href) : cacheFirst(event.request));
});

/** Pages (kept as the scope's page) and lexicons: fresh when online, so a deploy shows at once; the cached copy when offline. */
async function networkFirst(request: Request, key: string): Promise<Response> {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const cached = (await cache.match(request)) ?? (await cache.match(key));
    if (cached) return cached;
    throw err;
  }
}

/** Build files have content hashes in their names: a cached copy is never stale. */
async function cacheFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  return (await cache.match(request)) ?? fetch(request);
}

// The call page ([data-call-socket]): WebRTC between the call's two parties, signalled over the portal's
// socket (which relays the gateway's; the page never holds a token). Each side announces itself with "join"
// after "ready"; the lawyer answers a client's "join" with its own and the client offers once, when the
// lawyer's "join" arrives. The bytes received (inbound RTP) are kept in data-bytes-received for anyone who
// checks that media flows.
"use strict";

const STATS_MS = 1000;

function callPage(panel) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${panel.dataset.callSocket}`);
  const label = (name) => panel.getAttribute(`data-label-${name}`) || name;
  const showError = (text) => {
    const alert = document.getElementById("call-error");
    alert.textContent = text;
    alert.hidden = false;
  };
  const showStatus = (text) => {
    const status = document.getElementById("call-status");
    if (status) status.textContent = text;
  };
  const send = (frame) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  };
  let connection = null;
  let party = "";
  let offered = false;

  async function start(ready) {
    party = ready.party;
    let media;
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: true, video: panel.dataset.media === "video" });
    } catch (error) {
      showError(label("no-media"));
      return;
    }
    document.getElementById("local-video").srcObject = media;
    connection = new RTCPeerConnection({ iceServers: ready.ice_servers });
    for (const track of media.getTracks()) connection.addTrack(track, media);
    connection.addEventListener("track", (event) => {
      document.getElementById("remote-video").srcObject = event.streams[0];
    });
    connection.addEventListener("icecandidate", (event) => {
      if (event.candidate) send({ type: "candidate", candidate: event.candidate.toJSON() });
    });
    connection.addEventListener("connectionstatechange", () => {
      panel.dataset.connectionState = connection.connectionState;
      if (connection.connectionState === "connected") showStatus(label("connected"));
    });
    send({ type: "join" });
  }

  async function handle(frame) {
    if (frame.type === "ready") return start(frame);
    if (frame.type === "error") return showError(frame.detail);
    if (!connection) return;
    if (frame.type === "join" && party === "lawyer") {
      send({ type: "join" });
    } else if (frame.type === "join" && party === "client" && !offered) {
      offered = true;
      await connection.setLocalDescription(await connection.createOffer());
      send({ type: "offer", sdp: connection.localDescription.sdp });
    } else if (frame.type === "offer") {
      await connection.setRemoteDescription({ type: "offer", sdp: frame.sdp });
      await connection.setLocalDescription(await connection.createAnswer());
      send({ type: "answer", sdp: connection.localDescription.sdp });
    } else if (frame.type === "answer") {
      await connection.setRemoteDescription({ type: "answer", sdp: frame.sdp });
    } else if (frame.type === "candidate") {
      await connection.addIceCandidate(frame.candidate);
    } else if (frame.type === "bye") {
      connection.close();
      showStatus(label("ended"));
      showError(label("peer-left"));
    }
  }

  // Frames are handled one after another: a candidate must wait for the description before it.
  let handled = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    handled = handled.then(() => handle(frame)).catch((error) => showError(String(error)));
  });
  socket.addEventListener("close", (event) => {
    // 4401: the session's token needs refreshing, which a page load does; 4403: not a party of this call.
    if (event.code === 4401) location.reload();
    else if (event.code === 4403) showError(label("refused"));
    else if (event.code === 4409) showError(label("call-ended"));
  });
  const ending = document.getElementById("call-end");
  if (ending) ending.addEventListener("submit", () => send({ type: "bye" }));

  setInterval(async () => {
    if (!connection) return;
    let received = 0;
    (await connection.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp") received += report.bytesReceived || 0;
    });
    panel.dataset.bytesReceived = String(received);
  }, STATS_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const panel of document.querySelectorAll("[data-call-socket]")) callPage(panel);
});

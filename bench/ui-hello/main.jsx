// The anchor for bench:ui: the smallest React app Vite builds — one component, one mark.
// Plain .jsx so neither tsconfig (Node for bench/, DOM for renderer/) has to take it in.
import { StrictMode, useLayoutEffect } from 'react';
import { createRoot } from 'react-dom/client';

function Hello() {
  // The same mark, at the same moment (first commit), as renderer/src/App.tsx sets.
  useLayoutEffect(() => {
    performance.mark('ferry:first-render');
  }, []);
  return <h1>Hello</h1>;
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <Hello />
  </StrictMode>,
);

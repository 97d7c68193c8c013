// Starts Swagger UI on /api/docs (a file, not an inline script: the page's CSP allows 'self' only).
/* global SwaggerUIBundle -- swagger-ui-bundle.js, served by fastapi-offline, is loaded before this file */
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
});

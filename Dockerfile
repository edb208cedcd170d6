# One image for both processes; docker-compose.yml runs it as `web` and as `worker`.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 # Repositories are bind-mounted and owned by the host's user.
 && git config --system --add safe.directory '*'
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1
COPY . .
RUN npm ci --no-audit --no-fund && npx turbo run build --filter=@loopy/web \
 && mkdir -p /data/loopy && chown 1000:1000 /data/loopy && chmod 700 /data/loopy
EXPOSE 3000
CMD ["npm", "run", "start", "-w", "@loopy/web", "--", "--hostname", "0.0.0.0", "--port", "3000"]

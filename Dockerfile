# The Warden worker for the production-like stack (docker-compose.yml):
# workflows, activities, the `warden` Nexus service, the operator API and
# metrics. Node 24, the active LTS line.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY bin ./bin
USER node
# Operator API, Warden's /metrics, the Temporal worker runtime's metrics.
EXPOSE 8080 9464 9465
CMD ["node", "--import", "tsx", "workers/main.ts"]
